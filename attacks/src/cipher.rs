//! What the attacker knows about the ciphers (public specifications, not the key file): the
//! S-boxes, and the key schedules used only to score guesses against the known key.
//!
//! The S-boxes and key schedules are `wbgen`'s reference arithmetic (`wbgen::aes256::field`,
//! `wbgen::sm4::field`), which `wbgen`'s known-answer tests check against FIPS-197 and
//! GB/T 32907-2016, and this crate's tests check against the RustCrypto `aes` and `sm4` crates.

use wbruntime::Algorithm;

/// The AES S-box (FIPS-197 §5.1.1).
pub const AES_SBOX: [u8; 256] = wbgen::aes256::field::SBOX;
/// The inverse AES S-box (FIPS-197 §5.3.2).
pub const AES_INV_SBOX: [u8; 256] = wbgen::aes256::field::INV_SBOX;
/// The SM4 S-box (GB/T 32907-2016 §6.2).
pub const SM4_SBOX: [u8; 256] = wbgen::sm4::field::SBOX;

/// The inverse of a byte permutation.
pub fn invert(s: &[u8; 256]) -> [u8; 256] {
    let mut inv = [0u8; 256];
    for (x, &y) in s.iter().enumerate() {
        inv[usize::from(y)] = x as u8;
    }
    inv
}

/// One key byte an attack aims at: its name in the report and its true value.
#[derive(Clone, Debug)]
pub struct KeyByte {
    /// E.g. `dw0[3]` (AES equivalent-inverse-cipher round key 0, byte 3) or `rk0[1]` (SM4
    /// round key 0, big-endian byte 1).
    pub label: String,
    /// The correct value, from the known key.
    pub value: u8,
}

/// Sixteen-byte round keys, in order.
pub type RoundKeys = Vec<[u8; 16]>;

/// AES-256 round keys: `rk[0..15]` (FIPS-197 §5.2) and the equivalent inverse cipher's
/// `dw[0..15]` (§5.3.5), `dw[0] = rk[0]`, `dw[14] = rk[14]`, `dw[r] = InvMixColumns(rk[r])`.
pub fn aes_round_keys(key: &[u8]) -> Option<(RoundKeys, RoundKeys)> {
    let key: &[u8; 32] = key.try_into().ok()?;
    let rk = wbgen::aes256::field::expand_key(key).to_vec();
    let dw = wbgen::aes256::field::decryption_round_keys(key).to_vec();
    Some((rk, dw))
}

/// SM4 round keys `rk_0 .. rk_31` (GB/T 32907-2016 §7.3).
pub fn sm4_round_keys(key: &[u8]) -> Option<Vec<u32>> {
    let key: &[u8; 16] = key.try_into().ok()?;
    Some(wbgen::sm4::field::round_keys(key).to_vec())
}

/// The plaintext-side targets of DCA and LDA: the key bytes that meet a byte the attacker
/// knows from each decrypted block, with the function that gives that byte.
///
/// * AES-256: decryption round 14 outputs `p = InvS(s ⊕ K_14[q]) ⊕ dw[0][p]`, so the value
///   entering the last-round table is `S(p ⊕ dw[0][p]) ⊕ K_14[q]`: with a guess of
///   `dw[0][p] = key[p]`, `S(p ⊕ guess)` is predicted from the plaintext byte `p`.
/// * SM4: the last decryption round computes `X_35 = X_31 ⊕ L(τ(X_32 ⊕ X_33 ⊕ X_34 ⊕ rk_0))`
///   and the plaintext is `X_35 ‖ X_34 ‖ X_33 ‖ X_32`; byte `b` of `X_32 ⊕ X_33 ⊕ X_34` is
///   known, and with a guess of byte `b` of `rk_0`, the S-box output `S(y_b ⊕ guess)` is
///   predicted.
#[derive(Clone, Debug)]
pub struct PlaintextSide {
    /// The S-box whose output is predicted.
    pub sbox: [u8; 256],
    /// One per target: the key byte.
    pub keys: Vec<KeyByte>,
    /// Whether the known bytes come from the input block (first round of decryption) rather
    /// than the decrypted block (last round).
    pub from_input: bool,
    /// Per target, where its known byte is, if not as above: `(from_input, position)`, byte
    /// `position` of the input block (`true`) or of the decrypted block (`false`).
    pub positions: Option<Vec<(bool, usize)>>,
}

impl PlaintextSide {
    /// The targets for `algorithm` and the known `key`.
    pub fn new(algorithm: Algorithm, key: &[u8]) -> Option<Self> {
        match algorithm {
            Algorithm::Aes256 => {
                let (_, dw) = aes_round_keys(key)?;
                let keys = (0..16)
                    .map(|p| KeyByte {
                        label: format!("dw0[{p}]"),
                        value: dw[0][p],
                    })
                    .collect();
                Some(PlaintextSide {
                    sbox: AES_SBOX,
                    keys,
                    from_input: false,
                    positions: None,
                })
            }
            Algorithm::Sm4 => {
                let rk0 = sm4_round_keys(key)?.first()?.to_be_bytes();
                let keys = (0..4)
                    .map(|b| KeyByte {
                        label: format!("rk0[{b}]"),
                        value: rk0[b],
                    })
                    .collect();
                Some(PlaintextSide {
                    sbox: SM4_SBOX,
                    keys,
                    from_input: false,
                    positions: None,
                })
            }
            _ => None,
        }
    }

    /// The *first* round of decryption from the input block, which is the real ciphertext in
    /// standard mode: AES-256 predicts `InvS(c_q ⊕ K_1[q])` (`K_1 = dw[14]`), SM4
    /// `S(x_b ⊕ rk31[b])` for `x = X_1 ⊕ X_2 ⊕ X_3` of the input words. In external mode the
    /// input is `F(c)`, and these predictions are of a value the tables never compute.
    pub fn first_round(algorithm: Algorithm, key: &[u8]) -> Option<Self> {
        match algorithm {
            Algorithm::Aes256 => {
                let (_, dw) = aes_round_keys(key)?;
                let keys = (0..16)
                    .map(|q| KeyByte {
                        label: format!("dw14[{q}]"),
                        value: dw[14][q],
                    })
                    .collect();
                Some(PlaintextSide {
                    sbox: AES_INV_SBOX,
                    keys,
                    from_input: true,
                    positions: None,
                })
            }
            Algorithm::Sm4 => {
                let rk31 = sm4_round_keys(key)?.get(31)?.to_be_bytes();
                let keys = (0..4)
                    .map(|b| KeyByte {
                        label: format!("rk31[{b}]"),
                        value: rk31[b],
                    })
                    .collect();
                Some(PlaintextSide {
                    sbox: SM4_SBOX,
                    keys,
                    from_input: true,
                    positions: None,
                })
            }
            _ => None,
        }
    }

    /// The known input byte of each target for one decryption: from the decrypted block,
    /// or from the input block for the first round. (For SM4 both are `X ⊕ Y ⊕ Z` of words
    /// 1–3: `X_32..X_34` in the output `X_35 ‖ X_34 ‖ X_33 ‖ X_32`, `X_1..X_3` in the input.)
    pub fn known_bytes(&self, plaintext: &[u8; 16], input: &[u8; 16]) -> Vec<u8> {
        if let Some(p) = &self.positions {
            return p
                .iter()
                .map(|&(i, at)| {
                    let block = if i { input } else { plaintext };
                    block.get(at).copied().unwrap_or(0)
                })
                .collect();
        }
        let plaintext = if self.from_input { input } else { plaintext };
        if self.keys.len() == 16 {
            plaintext.to_vec()
        } else {
            (0..4)
                .map(|b| plaintext[4 + b] ^ plaintext[8 + b] ^ plaintext[12 + b])
                .collect()
        }
    }
}

impl PlaintextSide {
    /// Space-hard files: the first round of `E` *inside* `F(x) = msb(E_K(0^{128−n} ‖ x))`,
    /// predicted from the two lookups whose index `x` the attacker knows: the first (the
    /// ciphertext's last `n / 8` bytes) and the last (the plaintext's first `n / 8` bytes).
    /// Byte `b` of `x` sits at position `16 − n/8 + b` of `E`'s input, so AES-256 would compute
    /// `S(x_b ⊕ rk0[16 − n/8 + b])` (`rk0` = the key's first 16 bytes) and SM4
    /// `S(x_b ⊕ rk0[4 − n/8 + b])` (the input words `X_1 = X_2 = 0`, `X_3 = 0…0 ‖ x`). This is
    /// the only place where a key byte meets data the attacker knows; the runtime never
    /// computes `E`, only reads its outputs from the table.
    pub fn table_index(algorithm: Algorithm, key: &[u8], bits: u32) -> Option<Self> {
        let k = (bits / 8) as usize;
        let (sbox, rk0): (_, Vec<u8>) = match algorithm {
            Algorithm::Aes256 => (AES_SBOX, aes_round_keys(key)?.0.first()?.to_vec()),
            Algorithm::Sm4 => (
                SM4_SBOX,
                sm4_round_keys(key)?.first()?.to_be_bytes().to_vec(),
            ),
            _ => return None,
        };
        let mut keys = Vec::new();
        let mut positions = Vec::new();
        for (from_input, name) in [(false, "P"), (true, "C")] {
            for b in 0..k {
                let at = rk0.len() - k + b;
                let known = if from_input { 16 - k + b } else { b };
                keys.push(KeyByte {
                    label: format!("rk0[{at}]@{name}{known}"),
                    value: *rk0.get(at)?,
                });
                positions.push((from_input, known));
            }
        }
        Some(PlaintextSide {
            sbox,
            keys,
            from_input: false,
            positions: Some(positions),
        })
    }
}

/// AES-256 encryption of one block (FIPS-197 §5.1) under the round keys `rk`
/// (`wbgen::aes256::field::expand_key`), by the book: the experimenter's check that a
/// space-hard table holds `E_K`'s outputs (it uses the known key; no attack does).
pub fn aes256_encrypt(rk: &[[u8; 16]; 15], block: &[u8; 16]) -> [u8; 16] {
    use wbgen::aes256::field::SBOX;
    let mut s: [u8; 16] = core::array::from_fn(|i| block[i] ^ rk[0][i]);
    for (r, k) in rk.iter().enumerate().skip(1) {
        let sub = s.map(|b| SBOX[usize::from(b)]);
        // ShiftRows: row i of column c comes from column c + i.
        let shifted: [u8; 16] = core::array::from_fn(|p| sub[(p + 4 * (p % 4)) % 16]);
        s = if r < 14 {
            let mut m = [0u8; 16];
            for c in 0..4 {
                let col = aes_mix_column([
                    shifted[4 * c],
                    shifted[4 * c + 1],
                    shifted[4 * c + 2],
                    shifted[4 * c + 3],
                ]);
                m[4 * c..4 * c + 4].copy_from_slice(&col);
            }
            m
        } else {
            shifted
        };
        for (x, y) in s.iter_mut().zip(k.iter()) {
            *x ^= y;
        }
    }
    s
}

/// SM4 encryption of one block (GB/T 32907-2016 §7.1) under the round keys `rk`
/// (`wbgen::sm4::field::round_keys`), by the book (the same check as [`aes256_encrypt`]).
pub fn sm4_encrypt(rk: &[u32; 32], block: &[u8; 16]) -> [u8; 16] {
    let mut x: [u32; 4] = core::array::from_fn(|i| {
        u32::from_be_bytes([
            block[4 * i],
            block[4 * i + 1],
            block[4 * i + 2],
            block[4 * i + 3],
        ])
    });
    for k in rk.iter() {
        let next = x[0] ^ sm4_t(x[1] ^ x[2] ^ x[3] ^ k);
        x = [x[1], x[2], x[3], next];
    }
    let mut out = [0u8; 16];
    for (o, w) in out.chunks_exact_mut(4).zip(x.iter().rev()) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// AES MixColumns on one column (FIPS-197 §5.1.3), the inverse of the InvMixColumns that each
/// decryption round applies.
pub fn aes_mix_column(col: [u8; 4]) -> [u8; 4] {
    use wbgen::aes256::field::gmul;
    const MIX: [[u8; 4]; 4] = [[2, 3, 1, 1], [1, 2, 3, 1], [1, 1, 2, 3], [3, 1, 1, 2]];
    MIX.map(|row| row.iter().zip(col).fold(0, |acc, (&m, x)| acc ^ gmul(m, x)))
}

/// SM4's round transformation `T = L ∘ τ` (GB/T 32907-2016 §6.2).
pub fn sm4_t(x: u32) -> u32 {
    wbgen::sm4::field::l(wbgen::sm4::field::tau(x))
}

/// SM4's linear map `L` (GB/T 32907-2016 §6.2.2).
pub fn sm4_l(x: u32) -> u32 {
    wbgen::sm4::field::l(x)
}

/// The SM4 key whose first four round keys are `rk_0 … rk_3`: the key schedule
/// (GB/T 32907-2016 §7.3), `K_{i+4} = K_i ⊕ L′(τ(K_{i+1} ⊕ K_{i+2} ⊕ K_{i+3} ⊕ CK_i))` with
/// `rk_i = K_{i+4}` and `K_i = MK_i ⊕ FK_i`, run backwards from `K_4 … K_7`.
pub fn sm4_key_from_round_keys(rk: [u32; 4]) -> [u8; 16] {
    const FK: [u32; 4] = [0xa3b1_bac6, 0x56aa_3350, 0x677d_9197, 0xb270_22dc];
    let ck = |i: usize| -> u32 { (0..4).fold(0, |w, j| (w << 8) | ((4 * i + j) * 7 % 256) as u32) };
    let l_prime = |b: u32| b ^ b.rotate_left(13) ^ b.rotate_left(23);
    // k[i] = K_i, i = 0 … 7.
    let mut k = [0u32; 8];
    k[4..].copy_from_slice(&rk);
    for i in (0..4).rev() {
        let t = k[i + 1] ^ k[i + 2] ^ k[i + 3] ^ ck(i);
        k[i] = k[i + 4] ^ l_prime(wbgen::sm4::field::tau(t));
    }
    let mut key = [0u8; 16];
    for ((out, &ki), fk) in key.chunks_exact_mut(4).zip(&k).zip(FK) {
        out.copy_from_slice(&(ki ^ fk).to_be_bytes());
    }
    key
}
