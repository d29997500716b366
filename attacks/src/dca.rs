//! Differential computation analysis, first order, bit level.
//!
//! Bos, Hubain, Michiels, Teuwen, "Differential Computation Analysis: Hiding your White-Box
//! Designs is Not Enough" (CHES 2016), §3–§4: for every key-byte guess `k`, predict a bit of
//! a key-dependent intermediate value from known data, and compute the Pearson correlation of
//! that prediction with every sample bit of the software traces; the correct guess is the one
//! whose best absolute correlation is highest. As in §4.1 of that paper the prediction is not
//! only each bit of the target byte `z = S(x ⊕ k)` but every non-zero linear combination
//! `u · z` (255 masks), which defeats linear (mixing-bijection) encodings of `z`.
//!
//! The 256 × 255 correlations of one sample column are computed at once with the
//! Walsh–Hadamard transform: correlation only depends on the counts `D[x] = Σ_t (−1)^{s_t}`
//! over the traces with known byte `x_t = x`, and
//! `Σ_t (−1)^{u·S(x_t ⊕ k)} (−1)^{s_t} = Σ_z (−1)^{u·z} D[S⁻¹(z) ⊕ k] = WHT(D ∘ (S⁻¹ ⊕ k))[u]`.

use crate::bits::Bits;
use crate::cipher::{PlaintextSide, invert};
use crate::samples::{SampleLabel, Samples};

/// The in-place Walsh–Hadamard transform of 256 values (unnormalised).
pub fn wht(a: &mut [i32; 256]) {
    let mut h = 1;
    while h < 256 {
        for block in a.chunks_exact_mut(2 * h) {
            let (lo, hi) = block.split_at_mut(h);
            for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
                let (p, q) = (*x, *y);
                *x = p + q;
                *y = p - q;
            }
        }
        h *= 2;
    }
}

/// The best correlation of one guess: its absolute value, the sample column and the mask.
#[derive(Clone, Copy, Debug, Default)]
pub struct Best {
    /// `max |ρ|`.
    pub score: f32,
    /// Index of the sample column.
    pub column: usize,
    /// The linear mask `u` of the prediction `u · S(x ⊕ k)`.
    pub mask: u8,
}

/// Per target, per guess: the best correlation over every sample column and mask.
pub fn correlate(samples: &Samples, side: &PlaintextSide) -> Vec<[Best; 256]> {
    let n = samples.n;
    let targets = side.keys.len();
    let known = samples.known_bytes(side);
    let sinv = invert(&side.sbox);
    // Per target: counts H[x], and per guess the WHT of the prediction (Σ_t (−1)^{u·z_t})
    // scaled by 1/N, and 1/σ of each prediction.
    let mut count = vec![[0i32; 256]; targets];
    for kn in &known {
        for (j, &x) in kn.iter().enumerate() {
            count[j][usize::from(x)] += 1;
        }
    }
    let inv_n = 1.0 / n as f32;
    let pred: Vec<Vec<([f32; 256], [f32; 256])>> = count
        .iter()
        .map(|h| {
            (0..256)
                .map(|k| {
                    let mut a: [i32; 256] = core::array::from_fn(|z| h[usize::from(sinv[z]) ^ k]);
                    wht(&mut a);
                    let mean: [f32; 256] = core::array::from_fn(|u| a[u] as f32 * inv_n);
                    let inv_sd = core::array::from_fn(|u| {
                        let var = 1.0 - mean[u] * mean[u];
                        if var > 1e-9 { 1.0 / var.sqrt() } else { 0.0 }
                    });
                    (mean, inv_sd)
                })
                .collect()
        })
        .collect();

    let threads = 2;
    let chunk = samples.columns.len().div_ceil(threads).max(1);
    let partial: Vec<Vec<[Best; 256]>> = std::thread::scope(|s| {
        let handles: Vec<_> = samples
            .columns
            .chunks(chunk)
            .enumerate()
            .map(|(i, cols)| {
                let (known, count, pred, sinv) = (&known, &count, &pred, &sinv);
                s.spawn(move || {
                    let mut best = vec![[Best::default(); 256]; targets];
                    for (ci, col) in cols.iter().enumerate() {
                        column(col, i * chunk + ci, n, known, count, pred, sinv, &mut best);
                    }
                    best
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut best = vec![[Best::default(); 256]; targets];
    for p in partial {
        for (b, q) in best.iter_mut().zip(p) {
            for (x, y) in b.iter_mut().zip(q) {
                if y.score > x.score {
                    *x = y;
                }
            }
        }
    }
    best
}

/// Folds one sample column into `best`.
#[allow(clippy::too_many_arguments)]
fn column(
    col: &Bits,
    index: usize,
    n: usize,
    known: &[Vec<u8>],
    count: &[[i32; 256]],
    pred: &[Vec<([f32; 256], [f32; 256])>],
    sinv: &[u8; 256],
    best: &mut [[Best; 256]],
) {
    let targets = count.len();
    let mut ones = vec![[0i32; 256]; targets];
    let mut s1 = 0usize;
    for t in col.ones() {
        s1 += 1;
        if let Some(kn) = known.get(t) {
            for (j, &x) in kn.iter().enumerate() {
                ones[j][usize::from(x)] += 1;
            }
        }
    }
    let inv_n = 1.0 / n as f32;
    // Mean and 1/σ of the sample in ±1 form.
    let ms = (n as f32 - 2.0 * s1 as f32) * inv_n;
    let var_s = 1.0 - ms * ms;
    if var_s <= 1e-9 {
        return;
    }
    let inv_s = 1.0 / var_s.sqrt();
    for j in 0..targets {
        let d: [i32; 256] = core::array::from_fn(|x| count[j][x] - 2 * ones[j][x]);
        for k in 0..256 {
            let mut a: [i32; 256] = core::array::from_fn(|z| d[usize::from(sinv[z]) ^ k]);
            wht(&mut a);
            let (mean, inv_sd) = &pred[j][k];
            let mut top = 0f32;
            let mut top_u = 0;
            for u in 1..256 {
                let r = ((a[u] as f32 * inv_n - mean[u] * ms) * inv_sd[u] * inv_s).abs();
                if r > top {
                    top = r;
                    top_u = u;
                }
            }
            let b = &mut best[j][k];
            if top > b.score {
                *b = Best {
                    score: top,
                    column: index,
                    mask: top_u as u8,
                };
            }
        }
    }
}

/// A human description of a sample column.
pub fn describe(label: &SampleLabel) -> String {
    format!(
        "lookup {} (table @{:#x}) {} bit {}",
        label.lookup,
        label.table,
        if label.value { "value" } else { "index" },
        label.bit
    )
}
