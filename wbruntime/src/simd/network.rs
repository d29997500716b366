//! The table networks evaluated on a batch of blocks, one vector lane per block: the same
//! lookups as `aes256::soft` and `sm4::soft`, in the same order, on byte *positions* rather
//! than bytes. Written once as a macro and expanded in each backend's module, so that every
//! function carries that backend's `#[target_feature]` and the primitives inline.
//!
//! # Nibble placement
//!
//! The scalar network XORs two encoded bytes `a ⊕ b` with two nibble tables indexed by
//! `(a_h << 4) | b_h` and `(a_l << 4) | b_l`: six shifts and selects per byte to build the
//! indices and join the halves. Here every operand arrives with its nibbles already where the
//! index needs them, so an index is one bitwise select (`sel_f0`) and nothing is shifted:
//! * a *left* operand has its high nibble in bits 7–4 and its low nibble in bits 3–0 (the key
//!   file's byte order), a *right* operand the other way round (nibble-swapped);
//! * the high-nibble table is indexed `sel_f0(a, b) = (a_h << 4) | b_h` as in the key file, the
//!   low-nibble table `sel_f0(b, a) = (b_l << 4) | a_l`, which is why `planes::pack` stores it
//!   transposed;
//! * a table that produces a right operand is stored with its outputs nibble-swapped
//!   (`planes`), and an XOR result is kept as its two looked-up nibbles, each in its own
//!   vector ([`N2`], the other nibble of each vector is not part of the value), placed for the
//!   role the result plays next (each packed table is made for its site's role). A result is
//!   joined into a byte where a byte is needed: to index a byte or wide table, to be stored
//!   as a node of the input tree, or as the output.
//!
//! The values are the scalar network's, bit for bit (the lookups are of the same entries);
//! only where each nibble sits in a register differs, which never leaves the runtime.
//!
//! # Order of work
//!
//! The tables (1.5–2.5 MB) do not fit any cache level a core has to itself, the state of a
//! batch does; so the networks run over a *group* of batches (`FastKey::group`, up to 4096
//! blocks) and keep the tables that are in use small: each round runs over every batch of the
//! group before the next round, and AES rounds go column by column (a quarter of a round's
//! tables); the input stage runs a quarter of its tree at a time; each wide table meets all of
//! the group's lookups at once.
//!
//! A backend module provides, before expanding [`lane_network!`]:
//! * `V`, its vector type, `LANES` blocks per vector and `K` vectors per batch (a batch is
//!   `BATCH = LANES * K` blocks; each table is loaded once per batch step and applied to the
//!   `K` vectors, which keeps table traffic low);
//! * `Tab` and `table(&[u8; 256]) -> Tab`: a 256-entry table ready for lookups;
//!   `lookup(&Tab, V) -> V`: entry `x` for every lane `x`;
//! * `LAYOUT`, how it wants its multi-byte tables (`planes::Layout`), and
//!   `word_v(&Word, V) -> [V; 4]`, `mix8_v(&Mix, V, h) -> [V; 8]`: the bytes of entry `x`
//!   (of a block table, bytes `8h .. 8h + 8`);
//! * `XTab` and `xtable(&XPack) -> XTab`, `xlookup(&XTab, V) -> V`: a nibble-XOR table
//!   prepared by `planes::pack` for the backend's layout: entry `i` (packed: byte `i & 0x7f`,
//!   nibble-swapped where bit 7 of `i` is set);
//! * `sel_f0(a, b)`: `(a & 0xf0) | (b & 0x0f)` per byte; `swap(a)`: each byte nibble-swapped;
//! * `wide(&WideTable, a, b) -> V`: entry `(a << 8) | b`;
//! * `load_blocks(&[[u8; 16]; LANES]) -> [V; 16]`: blocks transposed into byte positions,
//!   `store_blocks(&[V; 16], &mut [[u8; 16]; LANES])` the inverse; `zero() -> V`.

macro_rules! lane_network {
    ($(#[$attr:meta])*) => {
        use crate::aes256::{self, INV_SHIFT};
        use crate::network::WideTable;
        use crate::simd::planes::{
            AesBranch, AesPlanes, AesRound, InputPlanes, Mix, Sm4Planes, Sm4Round, Word, XPack,
        };
        use crate::sm4;
        use alloc::vec;
        use alloc::vec::Vec;

        /// Blocks per batch.
        pub(crate) const BATCH: usize = LANES * K;

        /// One byte position of a batch: `K` vectors.
        #[derive(Clone, Copy)]
        struct L([V; K]);

        /// An XOR result as its two nibbles, each in its own vectors and placed for the role
        /// the result plays next (see the module documentation).
        #[derive(Clone, Copy)]
        struct N2 {
            h: L,
            l: L,
        }

        /// An XOR operand: a whole byte (both nibbles in one vector) or an [`N2`].
        trait Nib {
            fn h(&self) -> &L;
            fn l(&self) -> &L;
        }

        impl Nib for L {
            #[inline(always)]
            fn h(&self) -> &L {
                self
            }
            #[inline(always)]
            fn l(&self) -> &L {
                self
            }
        }

        impl Nib for N2 {
            #[inline(always)]
            fn h(&self) -> &L {
                &self.h
            }
            #[inline(always)]
            fn l(&self) -> &L {
                &self.l
            }
        }

        /// All lanes zero.
        #[inline]
        $(#[$attr])*
        fn zl() -> L {
            L([zero(); K])
        }

        #[inline]
        $(#[$attr])*
        fn z2() -> N2 {
            N2 { h: zl(), l: zl() }
        }

        /// Overwrites a scratch buffer of intermediate state before it is freed (as `zeroize`
        /// does, on a best-effort basis: `black_box` keeps the stores from being dropped as
        /// dead). The values are encoded, but the group buffers hold thousands of blocks' worth.
        #[inline]
        $(#[$attr])*
        fn wipe<T: Copy>(v: &mut [T], zero: T) {
            v.fill(zero);
            core::hint::black_box(v);
        }

        /// A 256-entry table applied to every lane of `x`.
        #[inline]
        $(#[$attr])*
        fn lut(t: &[u8; 256], x: &L, o: &mut L) {
            let tab = table(t);
            for k in 0..K {
                o.0[k] = lookup(&tab, x.0[k]);
            }
        }

        /// A byte→word table: the four bytes of the entry.
        #[inline]
        $(#[$attr])*
        fn word(p: &Word, x: &L, o: &mut [L; 4]) {
            for k in 0..K {
                let r = word_v(p, x.0[k]);
                for j in 0..4 {
                    o[j].0[k] = r[j];
                }
            }
        }

        /// Bytes nibble-swapped in place (left operands made right ones where no table could
        /// do it).
        #[inline]
        $(#[$attr])*
        fn swap_all<const B: usize>(x: &mut [L; B]) {
            for b in 0..B {
                for k in 0..K {
                    x[b].0[k] = swap(x[b].0[k]);
                }
            }
        }

        /// An XOR result joined into a byte in left order.
        #[inline]
        $(#[$attr])*
        fn join(x: &N2, o: &mut L) {
            for k in 0..K {
                o.0[k] = sel_f0(x.h.0[k], x.l.0[k]);
            }
        }

        /// `a ⊕ b` on encoded bytes (`a` left, `b` right) through a high- and a low-nibble
        /// table (as `soft::xor_encoded`), placed for the role the tables were packed for.
        #[inline]
        $(#[$attr])*
        fn xor_byte<A: Nib, B: Nib>(
            hi: &XPack,
            lo: &XPack,
            a: &A,
            b: &B,
            o: &mut N2,
        ) {
            let th = xtable(hi);
            let tl = xtable(lo);
            let (ah, al, bh, bl) = (a.h(), a.l(), b.h(), b.l());
            for k in 0..K {
                o.h.0[k] = xlookup(&th, sel_f0(ah.0[k], bh.0[k]));
                o.l.0[k] = xlookup(&tl, sel_f0(bl.0[k], al.0[k]));
            }
        }

        /// Two encoded vectors of `N` bytes XORed (tables `2k`, `2k + 1` for byte `k`).
        #[inline]
        $(#[$attr])*
        fn xor_bytes<const N: usize, A: Nib, B: Nib>(
            a: &[A; N],
            b: &[B; N],
            t: &[XPack],
            o: &mut [N2; N],
        ) {
            for k in 0..N {
                xor_byte::<A, B>(&t[2 * k], &t[2 * k + 1], &a[k], &b[k], &mut o[k]);
            }
        }

        /// `a ⊕ b` joined into bytes.
        #[inline]
        $(#[$attr])*
        fn xor_join<const N: usize, A: Nib, B: Nib>(
            a: &[A; N],
            b: &[B; N],
            t: &[XPack],
            o: &mut [L],
        ) {
            let mut r = z2();
            for k in 0..N {
                xor_byte::<A, B>(&t[2 * k], &t[2 * k + 1], &a[k], &b[k], &mut r);
                join(&r, &mut o[k]);
            }
        }

        /// `(v0 ⊕ v1) ⊕ (v2 ⊕ v3)` on encoded words (`v1`, `v3` come nibble-swapped), joined.
        #[inline]
        $(#[$attr])*
        fn column_xor(v: &[[L; 4]; 4], t: &[[XPack; 8]], o: &mut [L]) {
            let mut a = [z2(); 4];
            let mut b = [z2(); 4];
            xor_bytes::<4, L, L>(&v[0], &v[1], &t[0], &mut a);
            xor_bytes::<4, L, L>(&v[2], &v[3], &t[1], &mut b);
            xor_join::<4, N2, N2>(&a, &b, &t[2], o);
        }

        /// A wide table on every lane.
        #[inline]
        $(#[$attr])*
        fn wide_l(t: &WideTable, a: &L, b: &L, o: &mut L) {
            for k in 0..K {
                o.0[k] = wide(t, a.0[k], b.0[k]);
            }
        }

        /// An XOR result joined into a byte in the order of its role (right: nibble-swapped).
        #[inline]
        $(#[$attr])*
        fn join_role(x: &N2, right: bool, o: &mut L) {
            for k in 0..K {
                o.0[k] = if right {
                    sel_f0(x.l.0[k], x.h.0[k])
                } else {
                    sel_f0(x.h.0[k], x.l.0[k])
                };
            }
        }

        /// `a ⊕ b` on 16 bytes, joined in the order of the result's role.
        $(#[$attr])*
        fn xor_node(a: &[L; 16], b: &[L; 16], t: &[XPack; 32], right: bool, o: &mut [L; 16]) {
            let mut r = z2();
            for k in 0..16 {
                xor_byte::<L, L>(&t[2 * k], &t[2 * k + 1], &a[k], &b[k], &mut r);
                join_role(&r, right, &mut o[k]);
            }
        }

        /// `a ⊕ b` for one vector of encoded bytes (`a` left, `b` right), joined in the
        /// order of the result's role.
        #[inline]
        $(#[$attr])*
        fn xor_v(hi: &XPack, lo: &XPack, a: V, b: V, right: bool) -> V {
            let h = xlookup(&xtable(hi), sel_f0(a, b));
            let l = xlookup(&xtable(lo), sel_f0(b, a));
            if right { sel_f0(l, h) } else { sel_f0(h, l) }
        }

        /// Level-1 node `j` of the input tree for one batch: block tables `2j` and `2j + 1`
        /// and XOR group `j`, eight output bytes at a time so that both tables' parts stay in
        /// registers.
        #[inline]
        $(#[$attr])*
        fn input_leaf_pair(s: &[L; 16], t: &InputPlanes, j: usize, o: &mut [L; 16]) {
            let group = &t.xor[j];
            for k in 0..K {
                for half in 0..2 {
                    let ra = mix8_v(&t.mix[2 * j], s[2 * j].0[k], half);
                    let rb = mix8_v(&t.mix[2 * j + 1], s[2 * j + 1].0[k], half);
                    for p in 0..8 {
                        let byte = 8 * half + p;
                        o[byte].0[k] = xor_v(
                            &group[2 * byte],
                            &group[2 * byte + 1],
                            ra[p],
                            rb[p],
                            j % 2 == 1,
                        );
                    }
                }
            }
        }

        /// The input stage on every batch: sixteen byte→block tables and the XOR tree (the
        /// tree and its tables are those of `soft::input`: level `l`, pair `j` uses group
        /// `[0, 8, 12, 14][l] + j`).
        ///
        /// The stage's 124 KiB of tables do not fit the L1 cache, so it runs a quarter of the
        /// tree at a time over every batch: level-2 node `u` from block tables `4u .. 4u + 4`
        /// and three XOR groups (28 KiB of tables, which stay in L1 while every batch
        /// passes), then the last two levels. Nodes are kept joined into bytes, a right
        /// operand (odd index within its level) nibble-swapped, as their packed tables
        /// produce them; the odd block tables come nibble-swapped too.
        $(#[$attr])*
        fn input_all(states: &mut [[L; 16]], t: &InputPlanes) {
            let n = states.len();
            // Level 2, quarter by quarter; node-major (`u * n + batch`).
            let mut quarters = vec![[zl(); 16]; 4 * n];
            let (mut left, mut right) = ([zl(); 16], [zl(); 16]);
            for u in 0..4 {
                for (s, q) in states.iter().zip(&mut quarters[u * n..(u + 1) * n]) {
                    input_leaf_pair(s, t, 2 * u, &mut left);
                    input_leaf_pair(s, t, 2 * u + 1, &mut right);
                    xor_node(&left, &right, &t.xor[8 + u], u % 2 == 1, q);
                }
            }
            // Level 3 and the root.
            for (i, s) in states.iter_mut().enumerate() {
                let q = |u: usize| &quarters[u * n + i];
                xor_node(q(0), q(1), &t.xor[12], false, &mut left);
                xor_node(q(2), q(3), &t.xor[13], true, &mut right);
                xor_node(&left, &right, &t.xor[14], false, s);
            }
            wipe(&mut quarters, [zl(); 16]);
        }

        /// AES: type II, its XOR tree and type III for column `c`.
        #[inline]
        $(#[$attr])*
        fn column_parts(state: &[L; 16], c: usize, pl: &AesRound, w: &mut [[L; 4]; 4]) {
            let mut v = [[zl(); 4]; 4];
            for i in 0..4 {
                let p = 4 * c + i;
                word(&pl.t2[p], &state[INV_SHIFT[p]], &mut v[i]);
            }
            let mut y = [zl(); 4];
            column_xor(&v, &pl.x2[c], &mut y);
            for k in 0..4 {
                word(&pl.t3[4 * c + k], &y[k], &mut w[k]);
            }
        }

        /// One round on every batch, column by column: a column's tables (a quarter of the
        /// round's) stay in the L1 cache while every batch goes through them. `next` is
        /// scratch of the same length; the new states end up in `states`.
        $(#[$attr])*
        fn aes_round(states: &mut Vec<[L; 16]>, next: &mut Vec<[L; 16]>, pl: &AesRound) {
            let mut w = [[zl(); 4]; 4];
            for c in 0..4 {
                for (s, n) in states.iter().zip(next.iter_mut()) {
                    column_parts(s, c, pl, &mut w);
                    column_xor(&w, &pl.x3[c], &mut n[4 * c..4 * c + 4]);
                }
            }
            core::mem::swap(states, next);
        }

        /// Round 13 of branch `i` up to its two half sums (joined, as wide-table indices), into
        /// `halves[batch][2 i]` and `[2 i + 1]`; column by column over every batch, as
        /// [`aes_round`].
        $(#[$attr])*
        fn aes_half(
            states: &[[L; 16]],
            b: &AesBranch,
            i: usize,
            halves: &mut [[[L; 16]; 4]],
        ) {
            let mut w = [[zl(); 4]; 4];
            for c in 0..4 {
                let [x01, x23] = &b.half_x3[c];
                for (s, h) in states.iter().zip(halves.iter_mut()) {
                    column_parts(s, c, &b.half, &mut w);
                    let [a0, b0, a1, b1] = h;
                    let (v01, v23) = if i == 0 { (a0, b0) } else { (a1, b1) };
                    xor_join::<4, L, L>(&w[0], &w[1], x01, &mut v01[4 * c..4 * c + 4]);
                    xor_join::<4, L, L>(&w[2], &w[3], x23, &mut v23[4 * c..4 * c + 4]);
                }
            }
        }

        /// Transposes `BATCH` blocks into 16 byte positions.
        $(#[$attr])*
        fn load_batch(blocks: &[[u8; 16]], out: &mut [L; 16]) {
            for (k, chunk) in blocks.as_chunks::<LANES>().0.iter().take(K).enumerate() {
                let v = load_blocks(chunk);
                for p in 0..16 {
                    out[p].0[k] = v[p];
                }
            }
        }

        /// The inverse of [`load_batch`].
        $(#[$attr])*
        fn store_batch(state: &[L; 16], blocks: &mut [[u8; 16]]) {
            for (k, chunk) in blocks.as_chunks_mut::<LANES>().0.iter_mut().take(K).enumerate() {
                let mut v = [zero(); 16];
                for p in 0..16 {
                    v[p] = state[p].0[k];
                }
                store_blocks(&v, chunk);
            }
        }

        /// Loads the batches of `blocks` and runs the input stage, if any.
        $(#[$attr])*
        fn load_all(blocks: &[[u8; 16]], input_stage: Option<&InputPlanes>) -> Vec<[L; 16]> {
            let mut states = vec![[zl(); 16]; blocks.len() / BATCH];
            for (s, chunk) in states.iter_mut().zip(blocks.chunks_exact(BATCH)) {
                load_batch(chunk, s);
            }
            if let Some(it) = input_stage {
                input_all(&mut states, it);
            }
            states
        }

        /// The two branches' outputs combined (the second nibble-swapped into a right
        /// operand) and stored, batch by batch.
        $(#[$attr])*
        fn combine_all(outs: &mut [[[L; 16]; 2]], t: &[XPack; 32], blocks: &mut [[u8; 16]]) {
            for (o, chunk) in outs.iter_mut().zip(blocks.chunks_exact_mut(BATCH)) {
                let [out0, out1] = o;
                swap_all(out1);
                let mut out = [zl(); 16];
                xor_join::<16, L, L>(out0, out1, t, &mut out);
                store_batch(&out, chunk);
            }
        }

        /// Decrypts `blocks` (a whole number of batches) in place with AES-256 tables.
        ///
        /// Round-major: each round runs over every batch before the next round starts, so a
        /// round's tables are fetched once for all of them rather than once per batch, and
        /// each wide table meets all its lookups together.
        $(#[$attr])*
        pub(crate) fn aes_blocks(
            t: &aes256::Tables<'_>,
            pl: &AesPlanes,
            blocks: &mut [[u8; 16]],
        ) {
            let mut states = load_all(blocks, pl.input.as_ref());
            let mut next = states.clone();
            for r in &pl.rounds {
                aes_round(&mut states, &mut next, r);
            }
            // Rounds 11–13 twice, each branch from the state after round 10.
            let mut halves = vec![[[zl(); 16]; 4]; states.len()];
            for (i, br) in pl.branches.iter().enumerate() {
                let mut bs = states.clone();
                for r in &br.rounds {
                    aes_round(&mut bs, &mut next, r);
                }
                aes_half(&bs, br, i, &mut halves);
                wipe(&mut bs, [zl(); 16]);
            }
            wipe(&mut next, [zl(); 16]);
            // Round 14, one wide table at a time; both branches read the same one.
            let wide = t.last.wide;
            let mut outs = vec![[[zl(); 16]; 2]; states.len()];
            for p in 0..16 {
                let q = INV_SHIFT[p];
                for (h, o) in halves.iter().zip(&mut outs) {
                    wide_l(&wide[p], &h[0][q], &h[1][q], &mut o[0][p]);
                    wide_l(&wide[p], &h[2][q], &h[3][q], &mut o[1][p]);
                }
            }
            combine_all(&mut outs, &pl.combine, blocks);
            wipe(&mut states, [zl(); 16]);
            wipe(&mut halves, [[zl(); 16]; 4]);
            wipe(&mut outs, [[zl(); 16]; 2]);
        }

        /// SM4: byte `b` of `X_{i+1} ⊕ X_{i+2} ⊕ X_{i+3}` (the second and third through
        /// nibble-swapped `pre` tables), joined.
        #[inline]
        $(#[$attr])*
        fn sum3(x: &[[L; 4]; 4], pl: &Sm4Round, y: &mut [L; 4]) {
            let mut a = [[zl(); 1]; 3];
            let mut s = [z2(); 1];
            for b in 0..4 {
                for (m, a) in a.iter_mut().enumerate() {
                    lut(&pl.pre.0[4 * m + b], &x[m + 1][b], &mut a[0]);
                }
                xor_bytes::<1, L, L>(&a[0], &a[1], &pl.pre_xor[2 * b], &mut s);
                xor_join::<1, N2, L>(&s, &a[2], &pl.pre_xor[2 * b + 1], &mut y[b..b + 1]);
            }
        }

        /// `T'` of the round's `z`, XORed with `X_i` (through the nibble-swapped `r` tables):
        /// the new `X_{i+4}`.
        #[inline]
        $(#[$attr])*
        fn finish(z: &[L; 4], x0: &[L; 4], pl: &Sm4Round, o: &mut [L; 4]) {
            let mut w = [[zl(); 4]; 4];
            for k in 0..4 {
                word(&pl.u[k], &z[k], &mut w[k]);
            }
            let t = &pl.u_xor;
            let mut a = [z2(); 4];
            let mut b = [z2(); 4];
            let mut s = [z2(); 4];
            xor_bytes::<4, L, L>(&w[0], &w[1], &t[0], &mut a);
            xor_bytes::<4, L, L>(&w[2], &w[3], &t[1], &mut b);
            xor_bytes::<4, N2, N2>(&a, &b, &t[2], &mut s);
            let mut rx = [zl(); 4];
            for b in 0..4 {
                lut(&pl.r.0[b], &x0[b], &mut rx[b]);
            }
            xor_join::<4, N2, L>(&s, &rx, &pl.r_xor, o);
        }

        $(#[$attr])*
        fn sm4_round(x: &[[L; 4]; 4], pl: &Sm4Round, o: &mut [L; 4]) {
            let mut y = [zl(); 4];
            sum3(x, pl, &mut y);
            let mut v = [[zl(); 4]; 4];
            for b in 0..4 {
                word(&pl.t[b], &y[b], &mut v[b]);
            }
            let mut z = [zl(); 4];
            column_xor(&v, &pl.t_xor, &mut z);
            finish(&z, &x[0], pl, o);
        }

        /// `X_i .. X_{i+3}` from the four live words (`w[j % 4]` holds `X_j`).
        #[inline(always)]
        fn window(w: &[[L; 4]; 4], i: usize) -> [[L; 4]; 4] {
            [w[i % 4], w[(i + 1) % 4], w[(i + 2) % 4], w[(i + 3) % 4]]
        }

        /// Round `i` on every batch's live words.
        $(#[$attr])*
        fn sm4_rounds(ws: &mut [[[L; 4]; 4]], i: usize, pl: &Sm4Round) {
            let mut next = [zl(); 4];
            for w in ws {
                sm4_round(&window(w, i), pl, &mut next);
                w[i % 4] = next;
            }
        }

        /// Decrypts `blocks` (a whole number of batches) in place with SM4 tables, round-major
        /// as [`aes_blocks`].
        $(#[$attr])*
        pub(crate) fn sm4_blocks(t: &sm4::Tables<'_>, pl: &Sm4Planes, blocks: &mut [[u8; 16]]) {
            let mut states = load_all(blocks, pl.input.as_ref());
            let mut ws = vec![[[zl(); 4]; 4]; states.len()];
            for (w, s) in ws.iter_mut().zip(&states) {
                for j in 0..4 {
                    w[j].copy_from_slice(&s[4 * j..4 * j + 4]);
                }
            }
            for (i, p) in pl.rounds.iter().enumerate() {
                sm4_rounds(&mut ws, i, p);
            }
            let wide = t.last.t_wide;
            let last = sm4::ROUNDS - 1;
            let mut outs = vec![[[zl(); 16]; 2]; states.len()];
            let mut vs = vec![[[zl(); 4]; 4]; states.len()];
            let mut hs = vec![[[zl(); 4]; 2]; states.len()];
            for (bi, br) in pl.branches.iter().enumerate() {
                let (lp, rounds) = (&br.last, &br.rounds);
                // Rounds 24–30, then round 31 in three steps: `t` for every batch, the wide
                // tables one at a time, the rest of the round.
                let mut bw = ws.clone();
                for (k, p) in rounds.iter().enumerate() {
                    sm4_rounds(&mut bw, sm4::SHARED_ROUNDS + k, p);
                }
                for (w, v) in bw.iter().zip(&mut vs) {
                    let mut y = [zl(); 4];
                    sum3(&window(w, last), lp, &mut y);
                    for b in 0..4 {
                        word(&lp.t[b], &y[b], &mut v[b]);
                    }
                }
                for j in 0..4 {
                    for (v, h) in vs.iter().zip(&mut hs) {
                        wide_l(&wide[2 * j], &v[0][j], &v[1][j], &mut h[0][j]);
                        wide_l(&wide[2 * j + 1], &v[2][j], &v[3][j], &mut h[1][j]);
                    }
                }
                for ((w, h), o) in bw.iter_mut().zip(&mut hs).zip(&mut outs) {
                    let [h01, h23] = h;
                    swap_all(h23);
                    let mut z = [zl(); 4];
                    xor_join::<4, L, L>(h01, h23, &lp.t_xor[0], &mut z);
                    let mut next = [zl(); 4];
                    finish(&z, &w[last % 4], lp, &mut next);
                    w[last % 4] = next;
                    // The output block is `(X_35, X_34, X_33, X_32)`.
                    for m in 0..4 {
                        o[bi][4 * m..4 * m + 4].copy_from_slice(&w[3 - m]);
                    }
                }
                wipe(&mut bw, [[zl(); 4]; 4]);
            }
            combine_all(&mut outs, &pl.combine, blocks);
            wipe(&mut states, [zl(); 16]);
            wipe(&mut ws, [[zl(); 4]; 4]);
            wipe(&mut vs, [[zl(); 4]; 4]);
            wipe(&mut hs, [[zl(); 4]; 2]);
            wipe(&mut outs, [[zl(); 16]; 2]);
        }
    };
}

/// The checked entry points of a SIMD backend (expanded after [`lane_network!`] in a module
/// that allows `unsafe`): whole batches only, tables laid out for this backend, and the CPU
/// features of `Backend::$backend` present; `false`, and nothing done, otherwise.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
macro_rules! simd_entry_points {
    ($backend:ident) => {
        /// Decrypts a whole number of [`BATCH`]es of AES-256 blocks, if the CPU has this
        /// backend's features (`false`, and nothing done, if not).
        pub(crate) fn aes(t: &aes256::Tables<'_>, pl: &AesPlanes, blocks: &mut [[u8; 16]]) -> bool {
            if !blocks.len().is_multiple_of(BATCH)
                || pl.layout != LAYOUT
                || !crate::Backend::$backend.is_available()
            {
                return false;
            }
            // SAFETY: the CPU has the features `aes_blocks` is compiled for (checked just
            // above).
            unsafe { aes_blocks(t, pl, blocks) };
            true
        }

        /// Decrypts a whole number of [`BATCH`]es of SM4 blocks, if the CPU has this
        /// backend's features.
        pub(crate) fn sm4(t: &sm4::Tables<'_>, pl: &Sm4Planes, blocks: &mut [[u8; 16]]) -> bool {
            if !blocks.len().is_multiple_of(BATCH)
                || pl.layout != LAYOUT
                || !crate::Backend::$backend.is_available()
            {
                return false;
            }
            // SAFETY: as in `aes`.
            unsafe { sm4_blocks(t, pl, blocks) };
            true
        }
    };
}
