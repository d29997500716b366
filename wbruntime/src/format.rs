//! The key-file container: header, section directory, table sections, digest.
//!
//! This module is the one definition of the container layout; the generator writes files with
//! [`write_container`] (feature `alloc`) and the runtime reads them with [`Container::parse`].
//! FORMAT.md at the repository root documents the same layout byte by byte.
//!
//! ```text
//! offset  size  field
//! 0       8     magic            89 57 42 4B 0D 0A 1A 0A  ("\x89WBK\r\n\x1a\n")
//! 8       2     format_version   u16 LE, = 1
//! 10      1     algorithm        0 = AES-256, 1 = SM4
//! 11      1     flags            bit 0: external input encoding; bit 1: device bound;
//!                                bit 2: space-hard; others zero
//! 12      2     section_count    u16 LE, 1..=MAX_SECTIONS
//! 14      2     reserved         zero
//! 16      16    key_id           opaque identifier of the administrator's key
//! 32      4     key_version      u32 LE, the key's rotation version (1, 2, ...)
//! 36      4     reserved         zero
//! 40      8     total_len        u64 LE, length of the whole file including the digest
//! 48      16    reserved         zero
//! 64      16*n  section entries  kind u32, reserved u32 (zero), offset u32, length u32
//! ...           sections         each at a 64-byte aligned offset, in directory order,
//!                                separated only by zero padding
//! end-32  32    digest           BLAKE3 (32 bytes) over bytes [0, total_len - 32)
//! ```
//!
//! Parsing checks magic, version, total length and digest before it interprets anything else,
//! then every structural rule. The digest detects corruption; it is not a signature (anyone
//! may rewrite a key file, and its security never rests on the format being secret).

#![warn(clippy::indexing_slicing)]

use crate::Error;

/// The eight bytes every key file starts with. The non-ASCII first byte and the CR LF / ^Z / LF
/// tail catch files mangled by text-mode transfers, as in PNG.
pub const MAGIC: [u8; 8] = *b"\x89WBK\r\n\x1a\n";
/// The only container version this runtime reads.
pub const FORMAT_VERSION: u16 = 2;
/// Length of the fixed header.
pub const HEADER_LEN: usize = 64;
/// Length of one section-directory entry.
pub const SECTION_ENTRY_LEN: usize = 16;
/// Length of the trailing BLAKE3 digest.
pub const DIGEST_LEN: usize = 32;
/// Every section starts at a multiple of this (cache-line and SIMD friendly).
pub const SECTION_ALIGN: usize = 64;
/// Most sections a file may list.
pub const MAX_SECTIONS: usize = 8;
/// Largest key file this runtime accepts (checked before anything is allocated or hashed):
/// room for the largest space-hard table (`n = 24`, 208 MiB).
pub const MAX_FILE_LEN: usize = 256 << 20;

/// Header flag: the tables expect externally encoded ciphertext blocks F(E_K(x)).
pub const FLAG_EXTERNAL_ENCODING: u8 = 0b0000_0001;
/// Header flag: the file is bound to devices; its first-stage tables expect a mask that only
/// a bound device can unwrap from the binding section (see [`crate::binding`]).
pub const FLAG_DEVICE_BOUND: u8 = 0b0000_0010;
/// Header flag: a space-hard key file (`crate::space_hard`): one table of the cipher's
/// outputs instead of an encoded network; never with [`FLAG_EXTERNAL_ENCODING`].
pub const FLAG_SPACE_HARD: u8 = 0b0000_0100;
const KNOWN_FLAGS: u8 = FLAG_EXTERNAL_ENCODING | FLAG_DEVICE_BOUND | FLAG_SPACE_HARD;

/// Block cipher whose decryption the tables compute. The numbers are the `algorithm`
/// argument of `whitebox_decrypt` and the `algorithm` byte of the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// AES with a 256-bit key (FIPS-197), 14 rounds.
    Aes256 = 0,
    /// SM4 (GB/T 32907-2016), 32 rounds.
    Sm4 = 1,
}

impl Algorithm {
    /// The algorithm's number in the API and in the header.
    pub const fn number(self) -> u32 {
        self as u32
    }

    /// Whether this build of the runtime can decrypt with this algorithm's tables.
    pub const fn is_supported(self) -> bool {
        matches!(self, Algorithm::Aes256 | Algorithm::Sm4)
    }

    /// The algorithm with this number, or [`Error::UnsupportedAlgorithm`].
    pub const fn from_number(n: u32) -> Result<Self, Error> {
        match n {
            0 => Ok(Algorithm::Aes256),
            1 => Ok(Algorithm::Sm4),
            found => Err(Error::UnsupportedAlgorithm { found }),
        }
    }
}

/// The administrator's identifier of a key, carried in the file so tools can tell files apart.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct KeyId(pub [u8; 16]);

impl core::fmt::Display for KeyId {
    /// Formats as a UUID-style string, `8-4-4-4-12` lower-case hex digits.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl core::fmt::Debug for KeyId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl core::str::FromStr for KeyId {
    type Err = ();

    /// Parses the `8-4-4-4-12` form written by `Display` (hyphens optional).
    fn from_str(s: &str) -> Result<Self, ()> {
        let mut out = [0u8; 16];
        let mut digits = s.bytes().filter(|&c| c != b'-');
        for byte in &mut out {
            let hi = hex_digit(digits.next().ok_or(())?)?;
            let lo = hex_digit(digits.next().ok_or(())?)?;
            *byte = (hi << 4) | lo;
        }
        if digits.next().is_some() {
            return Err(());
        }
        Ok(KeyId(out))
    }
}

fn hex_digit(c: u8) -> Result<u8, ()> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(()),
    }
}

/// The fixed header fields that describe the key (everything but the layout fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The cipher the tables decrypt.
    pub algorithm: Algorithm,
    /// Header flags (`FLAG_*`).
    pub flags: u8,
    /// The administrator's key identifier.
    pub key_id: KeyId,
    /// The key's rotation version.
    pub key_version: u32,
}

impl Header {
    /// Whether the tables expect externally encoded ciphertext.
    pub const fn external_encoding(&self) -> bool {
        self.flags & FLAG_EXTERNAL_ENCODING != 0
    }

    /// Whether the file is bound to devices.
    pub const fn device_bound(&self) -> bool {
        self.flags & FLAG_DEVICE_BOUND != 0
    }

    /// Whether the file is space-hard (a table of the cipher's outputs).
    pub const fn space_hard(&self) -> bool {
        self.flags & FLAG_SPACE_HARD != 0
    }

    /// Whether the tables start with an input stage: with external encoding, and on bound
    /// Chow-style files (whose mask is folded into the input stage).
    pub const fn has_input_stage(&self) -> bool {
        !self.space_hard() && (self.external_encoding() || self.device_bound())
    }
}

/// A validated, borrowed view of a key file: header plus the sections it lists.
#[derive(Clone, Copy)]
pub struct Container<'a> {
    header: Header,
    sections: [(u32, &'a [u8]); MAX_SECTIONS],
    section_count: usize,
}

impl core::fmt::Debug for Container<'_> {
    /// Shows the header and the section kinds and sizes, never table bytes.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut list = f.debug_list();
        for (kind, data) in self.sections() {
            list.entry(&format_args!("section {kind:#06x}: {} bytes", data.len()));
        }
        list.finish()?;
        write!(f, " {:?}", self.header)
    }
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(at..at + 2) {
        a.copy_from_slice(s);
    }
    u16::from_le_bytes(a)
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

const fn malformed(what: &'static str) -> Error {
    Error::Malformed { what }
}

impl<'a> Container<'a> {
    /// Validates `bytes` as a key file and returns a view of it. Allocates nothing.
    ///
    /// # Errors
    /// [`Error::BadMagic`], [`Error::UnsupportedVersion`], [`Error::Truncated`],
    /// [`Error::IntegrityCheckFailed`], [`Error::UnsupportedAlgorithm`] or
    /// [`Error::Malformed`], checked in that order.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        Self::parse_inner(bytes, true)
    }

    /// [`parse`](Self::parse) without recomputing the digest, for bytes that this process
    /// already parsed in full and has kept immutable since (`OwnedKey`).
    pub(crate) fn parse_verified(bytes: &'a [u8]) -> Result<Self, Error> {
        Self::parse_inner(bytes, false)
    }

    fn parse_inner(bytes: &'a [u8], verify_digest: bool) -> Result<Self, Error> {
        // 1. Magic: on a short file, compare what is there so that a truncated key file reads
        //    as truncated and anything else as "not a key file".
        let magic_len = bytes.len().min(MAGIC.len());
        if bytes.get(..magic_len) != MAGIC.get(..magic_len) {
            return Err(Error::BadMagic);
        }
        if bytes.len() < HEADER_LEN + DIGEST_LEN {
            return Err(Error::Truncated);
        }
        // 2. Version.
        let version = le_u16(bytes, 8);
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion { found: version });
        }
        // 3. Total length, before hashing anything.
        let total = le_u64(bytes, 40);
        if total > MAX_FILE_LEN as u64 {
            return Err(malformed("total length exceeds the largest key file"));
        }
        let total = total as usize;
        if total > bytes.len() {
            return Err(Error::Truncated);
        }
        if total < bytes.len() {
            return Err(malformed("trailing bytes after the digest"));
        }
        if total < HEADER_LEN + DIGEST_LEN {
            return Err(malformed("total length smaller than header and digest"));
        }
        // 4. Digest over everything before it.
        let (body, digest) = bytes.split_at(total - DIGEST_LEN);
        if verify_digest && blake3::hash(body).as_bytes().as_slice() != digest {
            return Err(Error::IntegrityCheckFailed);
        }
        // 5. Header fields (the body is at least HEADER_LEN bytes: checked above).
        let Some(fixed) = body.first_chunk::<HEADER_LEN>() else {
            return Err(Error::Truncated);
        };
        let algorithm = Algorithm::from_number(u32::from(fixed[10]))?;
        let flags = fixed[11];
        if flags & !KNOWN_FLAGS != 0 {
            return Err(malformed("unknown header flags"));
        }
        if flags & FLAG_SPACE_HARD != 0 && flags & FLAG_EXTERNAL_ENCODING != 0 {
            return Err(malformed("space-hard key files have no external encoding"));
        }
        let count = usize::from(le_u16(body, 12));
        if le_u16(body, 14) != 0 || le_u32(body, 36) != 0 || fixed[48..].iter().any(|&b| b != 0) {
            return Err(malformed("reserved header bytes are not zero"));
        }
        if count == 0 || count > MAX_SECTIONS {
            return Err(malformed("section count out of range"));
        }
        let mut key_id = [0u8; 16];
        key_id.copy_from_slice(&fixed[16..32]);
        let header = Header {
            algorithm,
            flags,
            key_id: KeyId(key_id),
            key_version: le_u32(body, 32),
        };
        // 6. Section directory: aligned, in order, inside the body, zero padding between.
        let dir_end = HEADER_LEN + count * SECTION_ENTRY_LEN;
        if dir_end > body.len() {
            return Err(malformed(
                "section directory extends past the end of the file",
            ));
        }
        let mut sections: [(u32, &[u8]); MAX_SECTIONS] = [(0, &[]); MAX_SECTIONS];
        let mut cursor = dir_end;
        for (i, slot) in sections.iter_mut().take(count).enumerate() {
            let at = HEADER_LEN + i * SECTION_ENTRY_LEN;
            let kind = le_u32(body, at);
            let offset = le_u32(body, at + 8) as usize;
            let len = le_u32(body, at + 12) as usize;
            if kind == 0 || le_u32(body, at + 4) != 0 {
                return Err(malformed("bad section entry"));
            }
            if !offset.is_multiple_of(SECTION_ALIGN) || offset < cursor {
                return Err(malformed("section offset misaligned or out of order"));
            }
            let past_end = malformed("section extends past the end of the file");
            let end = offset.checked_add(len).ok_or(past_end)?;
            let data = body.get(offset..end).ok_or(past_end)?;
            let padding = body.get(cursor..offset).ok_or(past_end)?;
            if padding.iter().any(|&b| b != 0) {
                return Err(malformed("non-zero padding between sections"));
            }
            *slot = (kind, data);
            cursor = end;
        }
        let tail = body.get(cursor..).unwrap_or_default();
        if tail.iter().any(|&b| b != 0) {
            return Err(malformed("non-zero padding after the last section"));
        }
        if body.len() - cursor >= SECTION_ALIGN {
            return Err(malformed("unused space after the last section"));
        }
        let container = Container {
            header,
            sections,
            section_count: count,
        };
        for (i, (kind, _)) in container.sections().enumerate() {
            if container.sections().skip(i + 1).any(|(k, _)| k == kind) {
                return Err(malformed("duplicate section kind"));
            }
        }
        Ok(container)
    }

    /// The header fields.
    pub const fn header(&self) -> &Header {
        &self.header
    }

    /// The listed sections as `(kind, bytes)`, in file order.
    pub fn sections(&self) -> impl Iterator<Item = (u32, &'a [u8])> + '_ {
        self.sections.iter().take(self.section_count).copied()
    }

    /// The bytes of the section of this kind, if the file has one.
    pub fn section(&self, kind: u32) -> Option<&'a [u8]> {
        self.sections().find(|&(k, _)| k == kind).map(|(_, s)| s)
    }

    /// Kinds listed in the file that are not in `known` (to refuse files with unknown sections).
    pub fn has_only_sections(&self, known: &[u32]) -> bool {
        self.sections().all(|(k, _)| known.contains(&k))
    }
}

/// Writes a complete key file: header, directory, aligned sections, digest.
///
/// The generator calls this with the table sections it built; tests call it to make files that
/// are well-formed containers with chosen contents. Panics never; returns
/// [`Error::Malformed`] if there are too many sections or they would not fit the format's
/// 32-bit offsets.
#[cfg(feature = "alloc")]
pub fn write_container(
    header: &Header,
    sections: &[(u32, &[u8])],
) -> Result<alloc::vec::Vec<u8>, Error> {
    use alloc::vec::Vec;

    if sections.is_empty() || sections.len() > MAX_SECTIONS {
        return Err(malformed("section count out of range"));
    }
    let dir_end = HEADER_LEN + sections.len() * SECTION_ENTRY_LEN;
    let align = |n: usize| n.div_ceil(SECTION_ALIGN) * SECTION_ALIGN;
    let mut offsets = [0usize; MAX_SECTIONS];
    let mut cursor = dir_end;
    for (slot, (_, data)) in offsets.iter_mut().zip(sections) {
        *slot = align(cursor);
        cursor = *slot + data.len();
    }
    let total = cursor + DIGEST_LEN;
    if total > MAX_FILE_LEN {
        return Err(malformed("total length exceeds the largest key file"));
    }
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.push(header.algorithm as u8);
    out.push(header.flags);
    out.extend_from_slice(&(sections.len() as u16).to_le_bytes());
    out.extend_from_slice(&[0; 2]);
    out.extend_from_slice(&header.key_id.0);
    out.extend_from_slice(&header.key_version.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(total as u64).to_le_bytes());
    out.extend_from_slice(&[0; 16]);
    for ((kind, data), offset) in sections.iter().zip(offsets) {
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(offset as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    }
    for ((_, data), offset) in sections.iter().zip(offsets) {
        out.resize(offset, 0);
        out.extend_from_slice(data);
    }
    let digest = blake3::hash(&out);
    out.extend_from_slice(digest.as_bytes());
    debug_assert_eq!(out.len(), total);
    Ok(out)
}

/// Recomputes the digest of a key file in place (for tests that edit fields on purpose).
#[cfg(feature = "alloc")]
pub fn reseal(file: &mut [u8]) {
    if let Some(split) = file.len().checked_sub(DIGEST_LEN) {
        let (body, digest) = file.split_at_mut(split);
        digest.copy_from_slice(blake3::hash(body).as_bytes());
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn header() -> Header {
        Header {
            algorithm: Algorithm::Aes256,
            flags: 0,
            key_id: KeyId([7; 16]),
            key_version: 3,
        }
    }

    #[allow(clippy::unwrap_used)]
    fn sample() -> Vec<u8> {
        write_container(&header(), &[(1, &[1, 2, 3][..]), (2, &[9; 100][..])]).unwrap()
    }

    #[test]
    fn round_trip() {
        let file = sample();
        let c = Container::parse(&file).unwrap();
        assert_eq!(c.header(), &header());
        assert_eq!(c.section(1), Some(&[1u8, 2, 3][..]));
        assert_eq!(c.section(2).map(<[u8]>::len), Some(100));
        assert_eq!(c.section(3), None);
        assert!(c.has_only_sections(&[1, 2]));
        assert!(!c.has_only_sections(&[1]));
    }

    #[test]
    fn every_truncation_is_refused() {
        let file = sample();
        for len in 0..file.len() {
            let err = Container::parse(&file[..len]).unwrap_err();
            assert_eq!(err, Error::Truncated, "length {len}");
        }
    }

    #[test]
    fn every_bit_flip_is_refused() {
        let file = sample();
        for bit in 0..file.len() * 8 {
            let mut f = file.clone();
            f[bit / 8] ^= 1 << (bit % 8);
            assert!(Container::parse(&f).is_err(), "bit {bit} accepted");
        }
    }

    #[test]
    fn bad_magic_and_version() {
        let mut f = sample();
        f[0] = b'P';
        assert_eq!(Container::parse(&f).unwrap_err(), Error::BadMagic);
        assert_eq!(Container::parse(b"hello").unwrap_err(), Error::BadMagic);
        // The next version, and version 1 (the layout without plaintext-side
        // countermeasures), are both refused.
        for v in [FORMAT_VERSION + 1, 1] {
            let mut f = sample();
            f[8..10].copy_from_slice(&v.to_le_bytes());
            assert_eq!(
                Container::parse(&f).unwrap_err(),
                Error::UnsupportedVersion { found: v }
            );
        }
    }

    #[test]
    fn structural_errors_after_a_valid_digest() {
        // Edit a field, then reseal so the digest passes and the structural check must fire.
        let edit = |at: usize, val: u8| {
            let mut f = sample();
            f[at] = val;
            reseal(&mut f);
            Container::parse(&f).unwrap_err()
        };
        assert_eq!(edit(10, 9), Error::UnsupportedAlgorithm { found: 9 });
        assert!(matches!(edit(11, 0x80), Error::Malformed { .. }));
        assert!(matches!(edit(12, 0), Error::Malformed { .. })); // no sections
        assert!(matches!(edit(12, 200), Error::Malformed { .. }));
        assert!(matches!(edit(14, 1), Error::Malformed { .. }));
        assert!(matches!(edit(50, 1), Error::Malformed { .. }));
        assert!(matches!(edit(64, 0), Error::Malformed { .. })); // section kind 0
        assert!(matches!(edit(64 + 16, 1), Error::Malformed { .. })); // duplicate kind
        assert!(matches!(edit(64 + 8, 1), Error::Malformed { .. })); // misaligned
        assert!(matches!(edit(64 + 12 + 16, 0xff), Error::Malformed { .. })); // too long
        assert!(matches!(edit(100, 1), Error::Malformed { .. })); // padding not zero
    }

    #[test]
    fn huge_claimed_length_is_refused_before_hashing() {
        let mut f = sample();
        f[40..48].copy_from_slice(&(4u64 << 30).to_le_bytes());
        assert!(matches!(
            Container::parse(&f).unwrap_err(),
            Error::Malformed { .. }
        ));
        let mut f = sample();
        let len = f.len() as u64 + 1;
        f[40..48].copy_from_slice(&len.to_le_bytes());
        assert_eq!(Container::parse(&f).unwrap_err(), Error::Truncated);
    }

    #[test]
    fn key_id_text_round_trip() {
        let id = KeyId([
            0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8,
        ]);
        let text = alloc::format!("{id}");
        assert_eq!(text, "12345678-9abc-def0-0102-030405060708");
        assert_eq!(text.parse::<KeyId>(), Ok(id));
        assert!("1234".parse::<KeyId>().is_err());
        assert!(
            "zz345678-9abc-def0-0102-030405060708"
                .parse::<KeyId>()
                .is_err()
        );
    }
}
