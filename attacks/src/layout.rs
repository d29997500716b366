//! The key-file layout an attacker reads from FORMAT.md: where each section lies, the entry
//! width of the table at any offset, and the file ranges of the last rounds.

use wbruntime::format::Container;
use wbruntime::{Algorithm, aes256, sm4};

use crate::Error;

/// One table lookup, as the file sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// File offset of the table's entry 0.
    pub table: usize,
    /// Bytes per entry (1, 4 or 16).
    pub width: usize,
    /// The entry read: the table's input byte.
    pub index: u8,
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
}

/// Which lookups a trace keeps: named ranges of the last rounds (FORMAT.md offsets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// AES-256: the 16 final-round tables. SM4: the last round's `t` and `u` tables.
    Final,
    /// The last round: AES-256 the final tables and round 13 (all of `t2, x2, t3, x3`);
    /// SM4 round 31 (all of its tables).
    Last,
    /// The last two rounds: AES-256 final tables and rounds 12–13; SM4 rounds 30–31.
    Last2,
}

impl Window {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Window::Final => "final",
            Window::Last => "last",
            Window::Last2 => "last2",
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
        Ok(Layout {
            algorithm: c.header().algorithm,
            sections,
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
        let rel = offset - s.start;
        let width = match s.kind {
            aes256::SECTION_INPUT | sm4::SECTION_INPUT => {
                if rel < 16 * 256 * 16 {
                    16
                } else {
                    1
                }
            }
            aes256::SECTION_ROUNDS => match rel % aes256::ROUND_LEN {
                r if r < aes256::WORD_TABLES_LEN => 4,
                r if r < aes256::WORD_TABLES_LEN + aes256::COLUMN_XOR_LEN => 1,
                r if r < 2 * aes256::WORD_TABLES_LEN + aes256::COLUMN_XOR_LEN => 4,
                _ => 1,
            },
            aes256::SECTION_FINAL => 1,
            sm4::SECTION_ROUNDS => {
                let t = sm4::PRE_LEN + sm4::PRE_XOR_LEN;
                let u = t + sm4::WORD_TABLES_LEN + sm4::COLUMN_XOR_LEN;
                match rel % sm4::ROUND_LEN {
                    r if (t..t + sm4::WORD_TABLES_LEN).contains(&r) => 4,
                    r if (u..u + sm4::WORD_TABLES_LEN).contains(&r) => 4,
                    _ => 1,
                }
            }
            _ => return None,
        };
        let size = 256 * width;
        Some(Entry {
            table: s.start + rel / size * size,
            width,
            index: (rel % size / width) as u8,
        })
    }

    /// The file ranges whose lookups `window` keeps.
    pub fn window(&self, window: Window) -> Vec<core::ops::Range<usize>> {
        let mut out = Vec::new();
        match self.algorithm {
            Algorithm::Aes256 => {
                let rounds = match window {
                    Window::Final => 0,
                    Window::Last => 1,
                    Window::Last2 => 2,
                };
                if let Some(r) = self.section(aes256::SECTION_ROUNDS) {
                    let end = r.start + r.len;
                    out.push(end - rounds * aes256::ROUND_LEN..end);
                }
                if let Some(f) = self.section(aes256::SECTION_FINAL) {
                    out.push(f.start..f.start + f.len);
                }
            }
            _ => {
                if let Some(r) = self.section(sm4::SECTION_ROUNDS) {
                    let end = r.start + r.len;
                    let last = end - sm4::ROUND_LEN;
                    let t = last + sm4::PRE_LEN + sm4::PRE_XOR_LEN;
                    let u = t + sm4::WORD_TABLES_LEN + sm4::COLUMN_XOR_LEN;
                    match window {
                        Window::Final => {
                            out.push(t..t + sm4::WORD_TABLES_LEN);
                            out.push(u..u + sm4::WORD_TABLES_LEN);
                        }
                        Window::Last => out.push(last..end),
                        Window::Last2 => out.push(end - 2 * sm4::ROUND_LEN..end),
                    }
                }
            }
        }
        out
    }
}
