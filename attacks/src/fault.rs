//! Fault injection as a white-box attacker does it: by editing the key file.
//!
//! The attacker owns the tables, so a "fault" is an edit of one table entry, with the digest
//! recomputed (`wbruntime::format::reseal`: FORMAT.md says the digest is no signature), and a
//! decryption by the public runtime with the edited file. To fault one byte of an intermediate
//! state *on purpose*, the attacker first decrypts the input with the genuine file and reads
//! which entry of the chosen table that decryption looks up (the address trace of
//! `wbruntime::trace`, as a debugger or memory-trace tool shows it); then edits exactly that
//! entry, so that the faulty decryption of the same input is sure to read the edited value.
//!
//! **Which tables.** A fault must change *one* byte of a state, whatever the encodings. The
//! tables whose output is one nibble of one state byte are the last level of the nibble-XOR
//! trees that write a state:
//! * AES-256: `x3[c]` of round `j`, last level, table `2k + 1` gives the low nibble of the
//!   encoded byte `q = 4c + k` of the state entering round `j + 1`. The state byte is carried as
//!   `N(L(s))` (two nibble bijections after an 8 × 8 matrix, docs/aes256-whitebox.md §2); a
//!   different low nibble is a different encoded byte, which the next round's tables decode
//!   to a different `s`: a single-byte fault of unknown, non-zero value on `s_q`. A type II
//!   (`t2`) entry would not do: its 32-bit output is spread by the mixing bijection `MB`, and
//!   after `MB⁻¹` a change of it is a change of the whole column, not of one byte.
//! * SM4: `r_xor` of round `i`, table `2b + 1`, gives the low nibble of byte `b` of `X_{i+4}`
//!   (encoded under `X_{i+4}`'s own byte encoding, or in clear for `X_32 … X_35`): a fault on
//!   one byte of one state word.
//!
//! Each fault edits one entry of one of the byte's two tables, chosen at random (table `2k` for
//! the high nibble, `2k + 1` for the low one): it XORs a random non-zero nibble into the low
//! four bits of the entry (its high nibble is ignored by the runtime). Faulting either nibble
//! gives 30 fault values on an unencoded byte instead of 15 on one nibble, so that two faults
//! on one S-box rarely share their input difference (which would leave the symmetric key pair
//! `k`, `k ⊕ δ` undecided).

use rand_core::Rng;
use wbruntime::format::reseal;
use wbruntime::{WhiteboxKey, aes256, sm4};

use crate::Error;
use crate::layout::Layout;

/// Where a fault goes: the pair of nibble-XOR tables whose outputs are one state byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Site {
    /// File offset of the low-nibble table's entry 0 (the high-nibble table is the 256 bytes
    /// before it).
    pub table: usize,
    /// The faulted state byte, in the attack's own numbering (AES: state position `q`;
    /// SM4: `4 j + b` for byte `b` of the word faulted for round key `j`).
    pub tag: usize,
}

/// One faulted decryption: the same input decrypted by the genuine and the edited file.
#[derive(Clone, Copy, Debug)]
pub struct Pair {
    /// The site's tag.
    pub tag: usize,
    /// The correct decrypted block.
    pub correct: [u8; 16],
    /// The faulty decrypted block.
    pub faulty: [u8; 16],
}

/// The faulted decryptions of one campaign.
pub struct Campaign {
    /// One per fault, in site order `0, 1, …` cycling.
    pub pairs: Vec<Pair>,
    /// Edited files decrypted (one per fault).
    pub edits: usize,
}

/// AES-256: the tables writing state byte `q` entering round `round + 1`
/// (`x3` of full round `round`, 1 ≤ `round` ≤ 12, in branch `branch` for rounds 11–12;
/// FORMAT.md "AES-256").
///
/// # Errors
/// [`Error::Trace`] if the file has no such round or `q` is out of range.
pub fn aes_state_site(
    layout: &Layout,
    round: usize,
    branch: usize,
    q: usize,
) -> Result<Site, Error> {
    let start = layout
        .aes_round(round, branch)
        .filter(|_| round < aes256::ROUNDS - 1 && q < 16)
        .ok_or_else(|| Error::Trace(format!("no state byte {q} after round {round}")))?;
    let (c, k) = (q / 4, q % 4);
    let x3 = 2 * aes256::WORD_TABLES_LEN + aes256::COLUMN_XOR_LEN;
    let column = aes256::COLUMN_XOR_LEN / 4;
    let table = start
        + x3
        + c * column
        + 2 * 8 * 256 // the tree's last level: (v0 ⊕ v1) ⊕ (v2 ⊕ v3)
        + (2 * k + 1) * 256;
    Ok(Site { table, tag: q })
}

/// SM4: the tables writing byte `b` of `X_{round + 4}` (`r_xor` of decryption round
/// `round`, 0 ≤ `round` < 32, in branch `branch` for rounds 24–31; FORMAT.md "SM4").
///
/// # Errors
/// [`Error::Trace`] if the file has no such round or `b` is out of range.
pub fn sm4_word_site(
    layout: &Layout,
    round: usize,
    branch: usize,
    b: usize,
    tag: usize,
) -> Result<Site, Error> {
    let start = layout
        .sm4_round(round, branch)
        .filter(|_| b < 4)
        .ok_or_else(|| Error::Trace(format!("no byte {b} written by round {round}")))?;
    let len = if round == sm4::ROUNDS - 1 {
        sm4::LAST_ROUND_LEN
    } else {
        sm4::ROUND_LEN
    };
    let table = start + len - sm4::R_XOR_LEN + (2 * b + 1) * 256;
    Ok(Site { table, tag })
}

/// What one fault needs, drawn in advance so that the campaign does not depend on threading.
#[derive(Clone, Copy)]
struct Plan {
    site: Site,
    block: [u8; 16],
    /// Whether the high-nibble table is edited rather than the low-nibble one.
    high: bool,
    nibble: u8,
}

/// Injects `n` faults, cycling through `sites`, each into a fresh random input block.
///
/// # Errors
/// [`Error::KeyFile`] if the runtime refuses the genuine or an edited file; [`Error::Trace`]
/// if a decryption does not read a site's table.
pub fn campaign(
    file: &[u8],
    sites: &[Site],
    n: usize,
    rng: &mut impl Rng,
) -> Result<Campaign, Error> {
    if sites.is_empty() {
        return Err(Error::Trace("no fault site".into()));
    }
    let plans: Vec<Plan> = (0..n)
        .map(|f| {
            let mut block = [0u8; 16];
            rng.fill_bytes(&mut block);
            Plan {
                site: sites[f % sites.len()],
                block,
                high: rng.next_u32() & 1 == 1,
                nibble: 1 + (rng.next_u32() % 15) as u8,
            }
        })
        .collect();
    on_two_threads(file, &plans, run)
}

/// Runs one thread's share of a campaign's plans on the file.
type Runner<P> = fn(&[u8], &[P]) -> Result<Vec<Pair>, Error>;

/// Runs `plans` in two halves on two threads, each with its own copy of the file to edit,
/// and collects their pairs in order.
fn on_two_threads<P: Sync>(file: &[u8], plans: &[P], run: Runner<P>) -> Result<Campaign, Error> {
    let n = plans.len();
    let half = n.div_ceil(2).max(1);
    let results: Vec<Result<Vec<Pair>, Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = plans
            .chunks(half)
            .map(|chunk| s.spawn(move || run(file, chunk)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| Error::Trace("a fault thread panicked".into()))?
            })
            .collect()
    });
    let mut pairs = Vec::with_capacity(n);
    for r in results {
        pairs.extend(r?);
    }
    Ok(Campaign { pairs, edits: n })
}

/// Runs the faults of `plans` on one thread.
fn run(file: &[u8], plans: &[Plan]) -> Result<Vec<Pair>, Error> {
    let genuine = WhiteboxKey::parse(file)?;
    let base = file.as_ptr() as usize;
    let mut work = file.to_vec();
    let mut pairs = Vec::with_capacity(plans.len());
    for p in plans {
        let mut correct = p.block;
        let ((), addresses) =
            wbruntime::trace::record_lookups(|| genuine.decrypt_block(&mut correct));
        let table = p.site.table - if p.high { 256 } else { 0 };
        let range = table..table + 256;
        let at = addresses
            .into_iter()
            .filter_map(|a| a.checked_sub(base))
            .find(|o| range.contains(o))
            .ok_or_else(|| Error::Trace(format!("no lookup in the table @{table:#x}")))?;
        let entry = work
            .get_mut(at)
            .ok_or_else(|| Error::Trace("fault site outside the file".into()))?;
        *entry ^= p.nibble;
        reseal(&mut work);
        let mut faulty = p.block;
        WhiteboxKey::parse(&work)?.decrypt_block(&mut faulty);
        if let Some(entry) = work.get_mut(at) {
            *entry ^= p.nibble;
        }
        pairs.push(Pair {
            tag: p.site.tag,
            correct,
            faulty,
        });
    }
    Ok(pairs)
}

/// One space-hard fault, drawn in advance.
#[derive(Clone, Copy)]
struct EntryPlan {
    block: [u8; 16],
    /// Which lookup's entry is edited, counted from the end of the decryption (0: the last
    /// lookup, decryption round 1).
    from_end: usize,
    /// The byte of the entry edited and the non-zero value XORed into it.
    byte: usize,
    value: u8,
    tag: usize,
}

/// Space-hard files: `n` faults, each an edit of the one table entry that a chosen lookup of
/// the decryption reads. For a fresh random block, the genuine decryption's trace gives the
/// entries read; one of the last `last` lookups is drawn at random, a random byte of its
/// entry is XORed with a random non-zero byte, the digest recomputed, and the same block
/// decrypted with the edited file. Pair tags cycle through `0..tags` (the DFA's model
/// positions; a space-hard file has no state byte they could name).
///
/// # Errors
/// [`Error::KeyFile`] if the runtime refuses the file or an edited one; [`Error::Trace`] if
/// the file is not space-hard or a trace is shorter than `last`.
pub fn space_hard_campaign(
    file: &[u8],
    last: usize,
    tags: usize,
    n: usize,
    rng: &mut impl Rng,
) -> Result<Campaign, Error> {
    let layout = Layout::parse(file)?;
    let bits = layout
        .space_bits()
        .ok_or_else(|| Error::Trace("not a space-hard key file".into()))?;
    let w = bits.entry_len();
    let plans: Vec<EntryPlan> = (0..n)
        .map(|f| {
            let mut block = [0u8; 16];
            rng.fill_bytes(&mut block);
            EntryPlan {
                block,
                from_end: rng.next_u32() as usize % last.max(1),
                byte: rng.next_u32() as usize % w,
                value: 1 + (rng.next_u32() % 255) as u8,
                tag: f % tags.max(1),
            }
        })
        .collect();
    on_two_threads(file, &plans, run_entries)
}

/// Runs the space-hard faults of `plans` on one thread.
fn run_entries(file: &[u8], plans: &[EntryPlan]) -> Result<Vec<Pair>, Error> {
    let genuine = WhiteboxKey::parse(file)?;
    let base = file.as_ptr() as usize;
    let mut work = file.to_vec();
    let mut pairs = Vec::with_capacity(plans.len());
    for p in plans {
        let mut correct = p.block;
        let ((), addresses) =
            wbruntime::trace::record_lookups(|| genuine.decrypt_block(&mut correct));
        let entry = addresses
            .len()
            .checked_sub(1 + p.from_end)
            .and_then(|i| addresses.get(i))
            .and_then(|a| a.checked_sub(base))
            .ok_or_else(|| Error::Trace("the trace is shorter than the fault window".into()))?;
        let at = entry + p.byte;
        let byte = work
            .get_mut(at)
            .ok_or_else(|| Error::Trace("fault site outside the file".into()))?;
        *byte ^= p.value;
        reseal(&mut work);
        let mut faulty = p.block;
        WhiteboxKey::parse(&work)?.decrypt_block(&mut faulty);
        if let Some(byte) = work.get_mut(at) {
            *byte ^= p.value;
        }
        pairs.push(Pair {
            tag: p.tag,
            correct,
            faulty,
        });
    }
    Ok(pairs)
}
