//! Software traces from the real runtime, turned into bit samples.
//!
//! Bos, Hubain, Michiels, Teuwen, "Differential Computation Analysis: Hiding your White-Box
//! Designs is Not Enough" (CHES 2016), §3: a trace is the sequence of memory accesses of one
//! execution; each access contributes samples, here the bits of the *value read* and the bits
//! of the *index* (the address within its table, i.e. the table's input byte). The lookups
//! come from `wbruntime::trace::record_lookups` around `WhiteboxKey::decrypt_block`; each
//! address minus the key file's address is a file offset, and the value is read from the file.
//!
//! The lookup sequence of a block is fixed by the format (every table of the network is read
//! once, in order), so keeping only the lookups that fall in a window of the last rounds gives
//! the same sample positions in every trace; this is checked. A space-hard file's decryption
//! reads its one table once per round (`R` lookups, entry addresses recorded by the scalar
//! runtime), so there a window is a range of lookup positions
//! ([`Layout::space_hard_lookups`]); each lookup gives the `n` bits of its index and the
//! `128 − n` bits of the entry read.

use rand_core::Rng;
use wbruntime::WhiteboxKey;

use crate::Error;
use crate::bits::Bits;
use crate::layout::{Entry, Layout, Window};

/// What one sample bit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleLabel {
    /// Position of the lookup in the window (0 = the window's first lookup).
    pub lookup: usize,
    /// File offset of the table read.
    pub table: usize,
    /// `false`: bit of the index (table input); `true`: bit of the value read.
    pub value: bool,
    /// Bit number (index: 0..8, or 0..16 for a wide table, 0..n for a space-hard table; value:
    /// 0..8 × width, bit `i % 8` of byte `i / 8` of the entry as stored).
    pub bit: usize,
}

/// Bit samples of `n` traces, column-major: `columns[c]` holds sample `c` of every trace.
/// Constant columns and duplicates (equal or complementary) are dropped.
pub struct Samples {
    /// Number of traces.
    pub n: usize,
    /// The plaintext of each trace (the decrypted block).
    pub plaintexts: Vec<[u8; 16]>,
    /// The input of each trace (the block given to the tables).
    pub inputs: Vec<[u8; 16]>,
    /// The distinct non-constant sample columns.
    pub columns: Vec<Bits>,
    /// What each column is.
    pub labels: Vec<SampleLabel>,
    /// Lookups per trace in the window.
    pub lookups: usize,
    /// Sample bits per trace before dropping constant and duplicate columns.
    pub raw_columns: usize,
}

impl Samples {
    /// The known input byte of every target, per trace (`side` says from which block).
    pub fn known_bytes(&self, side: &crate::cipher::PlaintextSide) -> Vec<Vec<u8>> {
        self.plaintexts
            .iter()
            .zip(&self.inputs)
            .map(|(p, i)| side.known_bytes(p, i))
            .collect()
    }
}

/// One input block, its decryption and the window's lookups it made.
type Trace = ([u8; 16], [u8; 16], Vec<Entry>);

/// The window's lookups of one block: decrypts `block` with tracing on.
fn traced(
    key: &WhiteboxKey<'_>,
    layout: &Layout,
    base: usize,
    ranges: &[core::ops::Range<usize>],
    positions: Option<&core::ops::Range<usize>>,
    block: &mut [u8; 16],
) -> Vec<Entry> {
    let ((), addresses) = wbruntime::trace::record_lookups(|| key.decrypt_block(block));
    let entries: Vec<Entry> = addresses
        .into_iter()
        .filter_map(|a| a.checked_sub(base))
        .filter(|o| ranges.iter().any(|r| r.contains(o)))
        .filter_map(|o| layout.entry(o))
        .collect();
    match positions {
        Some(p) => entries
            .get(p.clone())
            .map(<[Entry]>::to_vec)
            .unwrap_or_default(),
        None => entries,
    }
}

/// Collects `n` traces of random ciphertext blocks (from `rng`) decrypted by the runtime with
/// `file`, keeping the lookups of `window`.
///
/// # Errors
/// [`Error::KeyFile`]; [`Error::Trace`] if the traces are not of a fixed shape.
pub fn collect(
    file: &[u8],
    window: Window,
    n: usize,
    rng: &mut impl Rng,
) -> Result<Samples, Error> {
    let key = WhiteboxKey::parse(file)?;
    let layout = Layout::parse(file)?;
    let ranges = layout.window(window);
    let positions = layout.space_hard_lookups(window);
    let base = file.as_ptr() as usize;
    let blocks: Vec<[u8; 16]> = (0..n)
        .map(|_| {
            let mut b = [0u8; 16];
            rng.fill_bytes(&mut b);
            b
        })
        .collect();
    // Two threads, each with its own thread-local trace buffer.
    let half = n.div_ceil(2);
    let results: Vec<Result<Vec<Trace>, Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = blocks
            .chunks(half.max(1))
            .map(|chunk| {
                let (key, layout, ranges, positions) = (&key, &layout, &ranges, &positions);
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|b| {
                            let mut block = *b;
                            let entries =
                                traced(key, layout, base, ranges, positions.as_ref(), &mut block);
                            (*b, block, entries)
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| Error::Trace("a tracing thread panicked".into()))
            })
            .collect()
    });
    let mut traces = Vec::with_capacity(n);
    for r in results {
        traces.extend(r?);
    }
    build(file, traces)
}

/// Turns per-trace lookups into bit columns.
fn build(file: &[u8], traces: Vec<Trace>) -> Result<Samples, Error> {
    let n = traces.len();
    let shape: Vec<(usize, usize, usize)> = traces
        .first()
        .map(|(_, _, e)| e.iter().map(|x| (x.table, x.width, x.index_bits)).collect())
        .unwrap_or_default();
    if shape.is_empty() {
        return Err(Error::Trace("no lookup in the window".into()));
    }
    let mut labels = Vec::new();
    for (lookup, &(table, width, index_bits)) in shape.iter().enumerate() {
        for bit in 0..index_bits {
            labels.push(SampleLabel {
                lookup,
                table,
                value: false,
                bit,
            });
        }
        for bit in 0..8 * width {
            labels.push(SampleLabel {
                lookup,
                table,
                value: true,
                bit,
            });
        }
    }
    let raw_columns = labels.len();
    let mut columns = vec![Bits::zeros(n); raw_columns];
    let mut plaintexts = Vec::with_capacity(n);
    let mut inputs = Vec::with_capacity(n);
    for (t, (input, plain, entries)) in traces.iter().enumerate() {
        if entries.len() != shape.len()
            || entries
                .iter()
                .zip(&shape)
                .any(|(e, &(tb, w, _))| e.table != tb || e.width != w)
        {
            return Err(Error::Trace(format!(
                "trace {t} reads other tables than trace 0"
            )));
        }
        plaintexts.push(*plain);
        inputs.push(*input);
        let mut c = 0;
        for e in entries {
            for bit in 0..e.index_bits {
                if e.index >> bit & 1 == 1 {
                    columns[c].set(t);
                }
                c += 1;
            }
            let at = e.table + e.index as usize * e.width;
            let value = file
                .get(at..at + e.width)
                .ok_or_else(|| Error::Trace("lookup outside the file".into()))?;
            for bit in 0..8 * e.width {
                if value[bit / 8] >> (bit % 8) & 1 == 1 {
                    columns[c].set(t);
                }
                c += 1;
            }
        }
    }
    // Drop constant columns and duplicates up to complement (same |correlation|, same span
    // with the constant vector).
    let mut seen = std::collections::HashSet::new();
    let mut kept = Vec::new();
    let mut kept_labels = Vec::new();
    for (mut col, label) in columns.into_iter().zip(labels) {
        let ones = col.count_ones();
        if ones == 0 || ones == n {
            continue;
        }
        let mut key = col.clone();
        if key.get(0) {
            for t in 0..n {
                key.flip(t);
            }
        }
        if seen.insert(key) {
            kept.push(core::mem::replace(&mut col, Bits::zeros(0)));
            kept_labels.push(label);
        }
    }
    Ok(Samples {
        n,
        plaintexts,
        inputs,
        columns: kept,
        labels: kept_labels,
        lookups: shape.len(),
        raw_columns,
    })
}
