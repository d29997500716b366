//! The table networks evaluated on a batch of blocks, one vector lane per block: the same
//! lookups as `aes256::soft` and `sm4::soft`, in the same order, on byte *positions* rather
//! than bytes. Written once as a macro and expanded in each backend's module, so that every
//! function carries that backend's `#[target_feature]` and the primitives inline.
//!
//! A backend module provides, before expanding [`lane_network!`]:
//! * `V`, its vector type, `LANES` blocks per vector and `K` vectors per batch (a batch is
//!   `BATCH = LANES * K` blocks; each table is loaded once per batch step and applied to the
//!   `K` vectors, which keeps table traffic low);
//! * `Tab` and `table(&[u8; 256]) -> Tab`: a 256-entry table ready for lookups;
//!   `lookup(&Tab, V) -> V`: entry `x` for every lane `x`;
//! * `sel_f0(a, b)`: `(a & 0xf0) | (b & 0x0f)` per byte; `shl4`, `shr4`: shifts of 16-bit
//!   lanes by four (the nibble moves that the XOR tables' indices need);
//! * `wide(&WideTable, a, b) -> V`: entry `(a << 8) | b`;
//! * `load(&[u8; LANES]) -> V`, `store(V, &mut [u8; LANES])`, `zero() -> V`.

macro_rules! lane_network {
    ($(#[$attr:meta])*) => {
        use crate::aes256::{self, INV_SHIFT};
        use crate::network::{ColumnXor, Input, WideTable, XorTable};
        use crate::simd::planes::{AesPlanes, AesRound, Mix, Sm4Planes, Sm4Round, Word};
        use crate::sm4;

        /// Blocks per batch.
        pub(crate) const BATCH: usize = LANES * K;

        /// One byte position of a batch: `K` vectors.
        #[derive(Clone, Copy)]
        struct L([V; K]);

        /// A 256-entry table applied to every lane of `x`.
        #[inline]
        $(#[$attr])*
        fn lut(t: &[u8; 256], x: &L) -> L {
            let tab = table(t);
            let mut o = [zero(); K];
            for k in 0..K {
                o[k] = lookup(&tab, x.0[k]);
            }
            L(o)
        }

        /// A byte→word table (as planes): the four bytes of the entry.
        #[inline]
        $(#[$attr])*
        fn word(p: &Word, x: &L) -> [L; 4] {
            [lut(&p[0], x), lut(&p[1], x), lut(&p[2], x), lut(&p[3], x)]
        }

        /// Two encoded bytes XORed through their two nibble tables (as `soft::xor_encoded`).
        #[inline]
        $(#[$attr])*
        fn xor_byte(hi: &XorTable, lo: &XorTable, a: &L, b: &L) -> L {
            let (th, tl) = (table(hi), table(lo));
            let mut o = [zero(); K];
            for k in 0..K {
                let (x, y) = (a.0[k], b.0[k]);
                let h = lookup(&th, sel_f0(x, shr4(y)));
                let l = lookup(&tl, sel_f0(shl4(x), y));
                o[k] = sel_f0(shl4(h), l);
            }
            L(o)
        }

        /// Two encoded vectors of `B` bytes XORed (tables `2k`, `2k + 1` for byte `k`).
        #[inline]
        $(#[$attr])*
        fn xor_bytes<const B: usize>(a: &[L; B], b: &[L; B], t: &[XorTable]) -> [L; B] {
            let mut o = [L([zero(); K]); B];
            for k in 0..B {
                o[k] = xor_byte(&t[2 * k], &t[2 * k + 1], &a[k], &b[k]);
            }
            o
        }

        /// `(v0 ⊕ v1) ⊕ (v2 ⊕ v3)` on encoded words.
        #[inline]
        $(#[$attr])*
        fn column_xor(v: &[[L; 4]; 4], t: &ColumnXor) -> [L; 4] {
            let a = xor_bytes(&v[0], &v[1], &t[0]);
            let b = xor_bytes(&v[2], &v[3], &t[1]);
            xor_bytes(&a, &b, &t[2])
        }

        /// A wide table on every lane.
        #[inline]
        $(#[$attr])*
        fn wide_l(t: &WideTable, a: &L, b: &L) -> L {
            let mut o = [zero(); K];
            for k in 0..K {
                o[k] = wide(t, a.0[k], b.0[k]);
            }
            L(o)
        }

        /// The input stage: sixteen byte→block tables and the XOR tree, reduced as the parts
        /// are made (a stack of at most five live blocks instead of all sixteen; the tree and
        /// its tables are those of `soft::input`: level `l`, pair `j` uses group
        /// `[0, 8, 12, 14][l] + j`).
        $(#[$attr])*
        fn input(block: &[L; 16], t: &Input<'_>, mix: &[Mix]) -> [L; 16] {
            const LEVEL_START: [usize; 4] = [0, 8, 12, 14];
            let mut stack = [[L([zero(); K]); 16]; 5];
            let mut levels = [0usize; 5];
            let mut depth = 0;
            for q in 0..16 {
                let mut cur = [L([zero(); K]); 16];
                for j in 0..16 {
                    cur[j] = lut(&mix[q][j], &block[q]);
                }
                // `q`'s node at level 0 is pair q / 2; merging carries upwards like a counter.
                let mut level = 0;
                let mut index = q;
                while depth > 0 && levels[depth - 1] == level {
                    depth -= 1;
                    let group = LEVEL_START[level] + index / 2;
                    cur = xor_bytes(&stack[depth], &cur, &t.xor[group]);
                    level += 1;
                    index /= 2;
                }
                stack[depth] = cur;
                levels[depth] = level;
                depth += 1;
            }
            stack[0]
        }

        /// AES: type II, its XOR tree and type III for column `c`.
        #[inline]
        $(#[$attr])*
        fn column_parts(state: &[L; 16], c: usize, x2: &ColumnXor, pl: &AesRound) -> [[L; 4]; 4] {
            let mut v = [[L([zero(); K]); 4]; 4];
            for i in 0..4 {
                let p = 4 * c + i;
                v[i] = word(&pl.t2[p], &state[INV_SHIFT[p]]);
            }
            let y = column_xor(&v, x2);
            let mut w = [[L([zero(); K]); 4]; 4];
            for k in 0..4 {
                w[k] = word(&pl.t3[4 * c + k], &y[k]);
            }
            w
        }

        $(#[$attr])*
        fn aes_round(state: &[L; 16], r: &aes256::Round<'_>, pl: &AesRound) -> [L; 16] {
            let mut out = [L([zero(); K]); 16];
            for c in 0..4 {
                let w = column_parts(state, c, &r.x2[c], pl);
                let col = column_xor(&w, &r.x3[c]);
                out[4 * c..4 * c + 4].copy_from_slice(&col);
            }
            out
        }

        $(#[$attr])*
        fn aes_branch(
            state: &[L; 16],
            b: &aes256::Branch<'_>,
            pl: &[AesRound],
            wide: &[WideTable; 16],
        ) -> [L; 16] {
            let mut s = *state;
            for (r, p) in b.rounds.iter().zip(pl) {
                s = aes_round(&s, r, p);
            }
            let h = &b.half;
            let last = &pl[pl.len() - 1];
            let mut v01 = [L([zero(); K]); 16];
            let mut v23 = [L([zero(); K]); 16];
            for c in 0..4 {
                let w = column_parts(&s, c, &h.x2[c], last);
                let [x01, x23] = &h.x3[c];
                v01[4 * c..4 * c + 4].copy_from_slice(&xor_bytes(&w[0], &w[1], x01));
                v23[4 * c..4 * c + 4].copy_from_slice(&xor_bytes(&w[2], &w[3], x23));
            }
            let mut out = [L([zero(); K]); 16];
            for p in 0..16 {
                let q = INV_SHIFT[p];
                out[p] = wide_l(&wide[p], &v01[q], &v23[q]);
            }
            out
        }

        /// Transposes `BATCH` blocks into 16 byte positions.
        $(#[$attr])*
        fn load_batch(blocks: &[[u8; 16]]) -> [L; 16] {
            let mut out = [L([zero(); K]); 16];
            for p in 0..16 {
                for k in 0..K {
                    let mut buf = [0u8; LANES];
                    for (j, b) in buf.iter_mut().enumerate() {
                        *b = blocks[k * LANES + j][p];
                    }
                    out[p].0[k] = load(&buf);
                }
            }
            out
        }

        /// The inverse of [`load_batch`].
        $(#[$attr])*
        fn store_batch(state: &[L; 16], blocks: &mut [[u8; 16]]) {
            for p in 0..16 {
                for k in 0..K {
                    let mut buf = [0u8; LANES];
                    store(state[p].0[k], &mut buf);
                    for (j, b) in buf.iter().enumerate() {
                        blocks[k * LANES + j][p] = *b;
                    }
                }
            }
        }

        /// Decrypts exactly [`BATCH`] blocks in place with AES-256 tables.
        $(#[$attr])*
        pub(crate) fn aes_batch(t: &aes256::Tables<'_>, pl: &AesPlanes, blocks: &mut [[u8; 16]]) {
            let mut state = load_batch(blocks);
            if let (Some(it), Some(mix)) = (&t.input, &pl.input) {
                state = input(&state, it, mix);
            }
            for (r, p) in t.rounds.iter().zip(&pl.rounds) {
                state = aes_round(&state, r, p);
            }
            let f = &t.last;
            let out0 = aes_branch(&state, &f.branches[0], &pl.branches[0], f.wide);
            let out1 = aes_branch(&state, &f.branches[1], &pl.branches[1], f.wide);
            let out = xor_bytes(&out0, &out1, f.combine);
            store_batch(&out, blocks);
        }

        /// SM4: byte `b` of `X_{i+1} ⊕ X_{i+2} ⊕ X_{i+3}`.
        #[inline]
        $(#[$attr])*
        fn sum3(x: &[[L; 4]; 4], pre: &[[u8; 256]; 12], pre_xor: &[[XorTable; 2]; 8]) -> [L; 4] {
            let mut y = [L([zero(); K]); 4];
            for b in 0..4 {
                let a0 = [lut(&pre[b], &x[1][b])];
                let a1 = [lut(&pre[4 + b], &x[2][b])];
                let a2 = [lut(&pre[8 + b], &x[3][b])];
                let s = xor_bytes(&a0, &a1, &pre_xor[2 * b]);
                y[b] = xor_bytes(&s, &a2, &pre_xor[2 * b + 1])[0];
            }
            y
        }

        #[inline]
        $(#[$attr])*
        fn finish(
            z: &[L; 4],
            x0: &[L; 4],
            u: &[Word],
            u_xor: &ColumnXor,
            r: &[[u8; 256]; 4],
            r_xor: &[XorTable; 8],
        ) -> [L; 4] {
            let mut w = [[L([zero(); K]); 4]; 4];
            for k in 0..4 {
                w[k] = word(&u[k], &z[k]);
            }
            let s = column_xor(&w, u_xor);
            let mut rx = [L([zero(); K]); 4];
            for b in 0..4 {
                rx[b] = lut(&r[b], &x0[b]);
            }
            xor_bytes(&s, &rx, r_xor)
        }

        $(#[$attr])*
        fn sm4_round(x: &[[L; 4]; 4], r: &sm4::Round<'_>, pl: &Sm4Round) -> [L; 4] {
            let y = sum3(x, r.pre, r.pre_xor);
            let mut v = [[L([zero(); K]); 4]; 4];
            for b in 0..4 {
                v[b] = word(&pl.t[b], &y[b]);
            }
            let z = column_xor(&v, r.t_xor);
            finish(&z, &x[0], &pl.u, r.u_xor, r.r, r.r_xor)
        }

        $(#[$attr])*
        fn sm4_last(
            x: &[[L; 4]; 4],
            r: &sm4::LastRound<'_>,
            pl: &Sm4Round,
            wide: &[WideTable; 8],
        ) -> [L; 4] {
            let y = sum3(x, r.pre, r.pre_xor);
            let mut v = [[L([zero(); K]); 4]; 4];
            for b in 0..4 {
                v[b] = word(&pl.t[b], &y[b]);
            }
            let mut h01 = [L([zero(); K]); 4];
            let mut h23 = [L([zero(); K]); 4];
            for j in 0..4 {
                h01[j] = wide_l(&wide[2 * j], &v[0][j], &v[1][j]);
                h23[j] = wide_l(&wide[2 * j + 1], &v[2][j], &v[3][j]);
            }
            let z = xor_bytes(&h01, &h23, r.t_xor);
            finish(&z, &x[0], &pl.u, r.u_xor, r.r, r.r_xor)
        }

        /// One SM4 branch from `X_24 .. X_27` (`w[j % 4]` holds `X_j`) to the encoded
        /// `(X_35, X_34, X_33, X_32)`.
        $(#[$attr])*
        fn sm4_branch(
            mut w: [[L; 4]; 4],
            b: &sm4::Branch<'_>,
            pl: &[Sm4Round],
            wide: &[WideTable; 8],
        ) -> [L; 16] {
            for (k, (r, p)) in b.rounds.iter().zip(pl).enumerate() {
                let i = sm4::SHARED_ROUNDS + k;
                let x = [w[i % 4], w[(i + 1) % 4], w[(i + 2) % 4], w[(i + 3) % 4]];
                w[i % 4] = sm4_round(&x, r, p);
            }
            let i = sm4::ROUNDS - 1;
            let x = [w[i % 4], w[(i + 1) % 4], w[(i + 2) % 4], w[(i + 3) % 4]];
            w[i % 4] = sm4_last(&x, &b.last, &pl[pl.len() - 1], wide);
            let mut out = [L([zero(); K]); 16];
            for m in 0..4 {
                out[4 * m..4 * m + 4].copy_from_slice(&w[3 - m]);
            }
            out
        }

        /// Decrypts exactly [`BATCH`] blocks in place with SM4 tables.
        $(#[$attr])*
        pub(crate) fn sm4_batch(t: &sm4::Tables<'_>, pl: &Sm4Planes, blocks: &mut [[u8; 16]]) {
            let mut state = load_batch(blocks);
            if let (Some(it), Some(mix)) = (&t.input, &pl.input) {
                state = input(&state, it, mix);
            }
            let mut w = [[L([zero(); K]); 4]; 4];
            for j in 0..4 {
                w[j].copy_from_slice(&state[4 * j..4 * j + 4]);
            }
            for (i, (r, p)) in t.rounds.iter().zip(&pl.rounds).enumerate() {
                let x = [w[i % 4], w[(i + 1) % 4], w[(i + 2) % 4], w[(i + 3) % 4]];
                w[i % 4] = sm4_round(&x, r, p);
            }
            let f = &t.last;
            let out0 = sm4_branch(w, &f.branches[0], &pl.branches[0], f.t_wide);
            let out1 = sm4_branch(w, &f.branches[1], &pl.branches[1], f.t_wide);
            let out = xor_bytes(&out0, &out1, f.combine);
            store_batch(&out, blocks);
        }
    };
}
