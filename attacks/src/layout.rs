//! The key-file layout an attacker reads from FORMAT.md: where each section lies, the entry
//! width of the table at any offset, and the file ranges of the last rounds.
//!
//! A space-hard file has one table (`wbruntime::space_hard`, FORMAT.md): every lookup of a
//! decryption reads it, `R` times in a row, so its windows are lookup positions rather than
//! file ranges ([`Layout::space_hard_lookups`]).

use wbruntime::format::Container;
use wbruntime::space_hard::{self, LineBits};
use wbruntime::{Algorithm, aes256, sm4};

use crate::Error;

/// One table lookup, as the file sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// File offset of the table's entry 0.
    pub table: usize,
    /// Bytes per entry (1, 4 or 16).
    pub width: usize,
    /// The entry read: the table's input (a byte, or two for a wide table; `n` bits for a
    /// space-hard table).
    pub index: u32,
    /// Bits of the index: 8, or 16 for a wide table, `n` for a space-hard table.
    pub index_bits: usize,
}

/// A run of same-shaped tables inside a section: offset and length relative to the section,
/// entry width, entries per table.
#[derive(Clone, Copy)]
struct Region {
    at: usize,
    len: usize,
    width: usize,
    entries: usize,
}

const fn region(at: usize, len: usize, width: usize, entries: usize) -> Region {
    Region {
        at,
        len,
        width,
        entries,
    }
}

/// The table regions of one full round, from `at`.
fn aes_round_regions(at: usize, half: bool) -> Vec<Region> {
    use aes256 as a;
    let x2 = at + a::WORD_TABLES_LEN;
    let t3 = x2 + a::COLUMN_XOR_LEN;
    let x3 = t3 + a::WORD_TABLES_LEN;
    vec![
        region(at, a::WORD_TABLES_LEN, 4, 256),
        region(x2, a::COLUMN_XOR_LEN, 1, 256),
        region(t3, a::WORD_TABLES_LEN, 4, 256),
        region(
            x3,
            if half {
                a::HALF_XOR_LEN
            } else {
                a::COLUMN_XOR_LEN
            },
            1,
            256,
        ),
    ]
}

/// The table regions of one SM4 round (or a branch's last round), from `at`.
fn sm4_round_regions(at: usize, last: bool) -> Vec<Region> {
    let t = at + sm4::PRE_LEN + sm4::PRE_XOR_LEN;
    let mut r = vec![
        region(at, sm4::PRE_LEN + sm4::PRE_XOR_LEN, 1, 256),
        region(t, sm4::WORD_TABLES_LEN, 4, 256),
    ];
    let mut u = t + sm4::WORD_TABLES_LEN;
    let between = if last {
        sm4::R_XOR_LEN
    } else {
        sm4::COLUMN_XOR_LEN
    };
    r.push(region(u, between, 1, 256));
    u += between;
    r.push(region(u, sm4::WORD_TABLES_LEN, 4, 256));
    let rest = sm4::COLUMN_XOR_LEN + sm4::R_LEN + sm4::R_XOR_LEN;
    r.push(region(u + sm4::WORD_TABLES_LEN, rest, 1, 256));
    r
}

/// The table regions of one section kind, relative to the section start (one round for the
/// rounds sections, which repeat it).
fn regions(kind: u32) -> Vec<Region> {
    use aes256 as a;
    match kind {
        aes256::SECTION_INPUT | sm4::SECTION_INPUT => vec![
            region(0, 16 * 256 * 16, 16, 256),
            region(16 * 256 * 16, wbruntime::network::INPUT_XOR_LEN, 1, 256),
        ],
        aes256::SECTION_ROUNDS => aes_round_regions(0, false),
        aes256::SECTION_FINAL => {
            let mut r = Vec::new();
            for b in 0..2 {
                let base = b * a::BRANCH_LEN;
                for j in 0..a::BRANCH_ROUNDS {
                    r.extend(aes_round_regions(base + j * a::ROUND_LEN, false));
                }
                r.extend(aes_round_regions(
                    base + a::BRANCH_ROUNDS * a::ROUND_LEN,
                    true,
                ));
            }
            let wide = 2 * a::BRANCH_LEN;
            r.push(region(wide, a::WIDE_LEN, 1, a::WIDE_ENTRIES));
            r.push(region(wide + a::WIDE_LEN, a::COMBINE_LEN, 1, 256));
            r
        }
        sm4::SECTION_ROUNDS => sm4_round_regions(0, false),
        sm4::SECTION_LAST => {
            let mut r = Vec::new();
            for b in 0..2 {
                let base = b * sm4::BRANCH_LEN;
                for j in 0..sm4::BRANCH_ROUNDS {
                    r.extend(sm4_round_regions(base + j * sm4::ROUND_LEN, false));
                }
                r.extend(sm4_round_regions(
                    base + sm4::BRANCH_ROUNDS * sm4::ROUND_LEN,
                    true,
                ));
            }
            let wide = 2 * sm4::BRANCH_LEN;
            r.push(region(wide, sm4::T_WIDE_LEN, 1, sm4::WIDE_ENTRIES));
            r.push(region(wide + sm4::T_WIDE_LEN, sm4::COMBINE_LEN, 1, 256));
            r
        }
        _ => Vec::new(),
    }
}

/// A section: its kind and file range.
#[derive(Clone, Copy, Debug)]
struct Section {
    kind: u32,
    start: usize,
    len: usize,
}

/// The parsed layout of one key file.
#[derive(Clone, Debug)]
pub struct Layout {
    algorithm: Algorithm,
    sections: Vec<Section>,
    /// The line width of a space-hard file (from its section header), `None` otherwise.
    space_bits: Option<LineBits>,
}

/// Which lookups a trace keeps: named ranges of the last rounds (FORMAT.md offsets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// AES-256: the 16 wide tables of round 14. SM4: round 31's `t` and `u` tables (both
    /// branches) and the wide tables.
    Final,
    /// The last round: AES-256 round 13 of both branches, the wide tables and the
    /// combination; SM4 round 31 of both branches, the wide tables and the combination.
    Last,
    /// The last two rounds: as [`Window::Last`] and the round before it in both branches.
    Last2,
    /// The first round of decryption and the input stage (if the file has one): the side
    /// that the external encoding hides and that standard mode exposes.
    First,
    /// Every lookup (space-hard files: all `R` rounds).
    All,
}

impl Window {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Window::Final => "final",
            Window::Last => "last",
            Window::Last2 => "last2",
            Window::First => "first",
            Window::All => "all",
        }
    }
}

impl Layout {
    /// Reads the section directory of `file` (the runtime's own container parser).
    ///
    /// # Errors
    /// [`Error::KeyFile`] if the container is invalid.
    pub fn parse(file: &[u8]) -> Result<Self, Error> {
        let c = Container::parse(file)?;
        let base = file.as_ptr() as usize;
        let sections = c
            .sections()
            .map(|(kind, data)| Section {
                kind,
                start: data.as_ptr() as usize - base,
                len: data.len(),
            })
            .collect();
        let space_bits = if c.header().space_hard() {
            c.section(space_hard::SECTION_TABLE)
                .and_then(|t| t.first())
                .and_then(|&n| LineBits::from_bits(u32::from(n)))
        } else {
            None
        };
        Ok(Layout {
            algorithm: c.header().algorithm,
            sections,
            space_bits,
        })
    }

    /// The line width of a space-hard file, `None` for the other modes.
    pub fn space_bits(&self) -> Option<LineBits> {
        self.space_bits
    }

    /// For a space-hard file, the lookups of one decryption that `window` keeps, by position
    /// in the trace (decryption reads the table once per round, rounds `R` down to 1): `all`,
    /// the `first` or `last` turn (`⌈128 / n⌉` rounds, after which every line of the state has
    /// been replaced), the last two turns (`last2`), or the `final` lookup alone (decryption
    /// round 1, whose index is the plaintext's first `n` bits). `None` for the other modes.
    pub fn space_hard_lookups(&self, window: Window) -> Option<core::ops::Range<usize>> {
        let bits = self.space_bits?;
        let r = bits.rounds() as usize;
        let turn = 128usize.div_ceil(bits.bits() as usize);
        Some(match window {
            Window::All => 0..r,
            Window::First => 0..turn,
            Window::Final => r - 1..r,
            Window::Last => r - turn..r,
            Window::Last2 => r - 2 * turn..r,
        })
    }

    /// The cipher of the file.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    fn section(&self, kind: u32) -> Option<Section> {
        self.sections.iter().copied().find(|s| s.kind == kind)
    }

    /// File offset of section `kind`, if present.
    pub fn section_start(&self, kind: u32) -> Option<usize> {
        self.section(kind).map(|s| s.start)
    }

    /// The table entry at file offset `offset`, or `None` outside every table.
    pub fn entry(&self, offset: usize) -> Option<Entry> {
        let s = self
            .sections
            .iter()
            .find(|s| (s.start..s.start + s.len).contains(&offset))?;
        let mut rel = offset - s.start;
        if s.kind == space_hard::SECTION_TABLE {
            // Entry x at SECTION_HEADER_LEN + x·w (FORMAT.md); the runtime's trace records
            // the address of the entry itself.
            let bits = self.space_bits?;
            let w = bits.entry_len();
            let x = rel.checked_sub(space_hard::SECTION_HEADER_LEN)? / w;
            return (x < bits.entries()).then(|| Entry {
                table: s.start + space_hard::SECTION_HEADER_LEN,
                width: w,
                index: x as u32,
                index_bits: bits.bits() as usize,
            });
        }
        let mut base = s.start;
        let period = match s.kind {
            aes256::SECTION_ROUNDS => aes256::ROUND_LEN,
            sm4::SECTION_ROUNDS => sm4::ROUND_LEN,
            _ => s.len,
        };
        base += rel / period * period;
        rel %= period;
        let r = regions(s.kind)
            .into_iter()
            .find(|r| (r.at..r.at + r.len).contains(&rel))?;
        let size = r.entries * r.width;
        let within = rel - r.at;
        Some(Entry {
            table: base + r.at + within / size * size,
            width: r.width,
            index: (within % size / r.width) as u32,
            index_bits: if r.entries == 256 { 8 } else { 16 },
        })
    }

    /// File offset of the tables of AES-256 round `j` (1 ≤ `j` ≤ 13); rounds 11–13 exist once
    /// per branch (`branch` 0 or 1, ignored for rounds 1–10). FORMAT.md, "AES-256".
    pub fn aes_round(&self, j: usize, branch: usize) -> Option<usize> {
        if j == 0 || j >= aes256::ROUNDS || branch > 1 {
            return None;
        }
        if j <= aes256::SHARED_ROUNDS {
            let r = self.section(aes256::SECTION_ROUNDS)?;
            return Some(r.start + (j - 1) * aes256::ROUND_LEN);
        }
        let f = self.section(aes256::SECTION_FINAL)?;
        Some(
            f.start
                + branch * aes256::BRANCH_LEN
                + (j - 1 - aes256::SHARED_ROUNDS) * aes256::ROUND_LEN,
        )
    }

    /// File offset of the tables of SM4 decryption round `i` (0 ≤ `i` < 32); rounds 24–31
    /// exist once per branch. FORMAT.md, "SM4".
    pub fn sm4_round(&self, i: usize, branch: usize) -> Option<usize> {
        if i >= sm4::ROUNDS || branch > 1 {
            return None;
        }
        if i < sm4::SHARED_ROUNDS {
            let r = self.section(sm4::SECTION_ROUNDS)?;
            return Some(r.start + i * sm4::ROUND_LEN);
        }
        let l = self.section(sm4::SECTION_LAST)?;
        Some(l.start + branch * sm4::BRANCH_LEN + (i - sm4::SHARED_ROUNDS) * sm4::ROUND_LEN)
    }

    /// The file ranges whose lookups `window` keeps.
    pub fn window(&self, window: Window) -> Vec<core::ops::Range<usize>> {
        let mut out = Vec::new();
        if window == Window::All || self.space_bits.is_some() {
            // Every table (a space-hard file's one table: its windows are positions).
            return self
                .sections
                .iter()
                .filter(|s| s.kind != wbruntime::binding::SECTION_BINDING)
                .map(|s| s.start..s.start + s.len)
                .collect();
        }
        if window == Window::First {
            let (input, rounds, len) = match self.algorithm {
                Algorithm::Aes256 => (
                    aes256::SECTION_INPUT,
                    aes256::SECTION_ROUNDS,
                    aes256::ROUND_LEN,
                ),
                _ => (sm4::SECTION_INPUT, sm4::SECTION_ROUNDS, sm4::ROUND_LEN),
            };
            if let Some(i) = self.section(input) {
                out.push(i.start..i.start + i.len);
            }
            if let Some(r) = self.section(rounds) {
                out.push(r.start..r.start + len);
            }
            return out;
        }
        match self.algorithm {
            Algorithm::Aes256 => {
                use aes256 as a;
                let Some(f) = self.section(a::SECTION_FINAL) else {
                    return out;
                };
                let wide = f.start + 2 * a::BRANCH_LEN;
                out.push(wide..wide + a::WIDE_LEN);
                let rounds = match window {
                    Window::Final | Window::First | Window::All => 0,
                    Window::Last => 1,
                    Window::Last2 => 2,
                };
                if rounds > 0 {
                    out.push(wide + a::WIDE_LEN..wide + a::WIDE_LEN + a::COMBINE_LEN);
                }
                for b in 0..2 {
                    let end = f.start + (b + 1) * a::BRANCH_LEN;
                    if rounds >= 1 {
                        out.push(end - a::HALF_ROUND_LEN..end);
                    }
                    if rounds >= 2 {
                        let r12 = end - a::HALF_ROUND_LEN - a::ROUND_LEN;
                        out.push(r12..r12 + a::ROUND_LEN);
                    }
                }
            }
            _ => {
                let Some(l) = self.section(sm4::SECTION_LAST) else {
                    return out;
                };
                let wide = l.start + 2 * sm4::BRANCH_LEN;
                out.push(wide..wide + sm4::T_WIDE_LEN);
                for b in 0..2 {
                    let end = l.start + (b + 1) * sm4::BRANCH_LEN;
                    let last = end - sm4::LAST_ROUND_LEN;
                    match window {
                        Window::Final => {
                            let t = last + sm4::PRE_LEN + sm4::PRE_XOR_LEN;
                            out.push(t..t + sm4::WORD_TABLES_LEN);
                            let u = t + sm4::WORD_TABLES_LEN + sm4::R_XOR_LEN;
                            out.push(u..u + sm4::WORD_TABLES_LEN);
                        }
                        Window::Last | Window::First | Window::All => out.push(last..end),
                        Window::Last2 => out.push(last - sm4::ROUND_LEN..end),
                    }
                }
                if window != Window::Final {
                    out.push(wide + sm4::T_WIDE_LEN..wide + sm4::T_WIDE_LEN + sm4::COMBINE_LEN);
                }
            }
        }
        out
    }
}
