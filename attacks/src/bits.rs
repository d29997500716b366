//! Bit vectors over GF(2), packed in `u64` words (bit `i` is bit `i % 64` of word `i / 64`).

/// A bit vector of fixed length.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bits {
    words: Vec<u64>,
}

impl Bits {
    /// `n` zero bits.
    pub fn zeros(n: usize) -> Self {
        Bits {
            words: vec![0; n.div_ceil(64)],
        }
    }

    /// Bit `i`.
    #[inline]
    pub fn get(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w >> (i % 64) & 1 == 1)
    }

    /// Sets bit `i` to one (out-of-range indices are ignored).
    #[inline]
    pub fn set(&mut self, i: usize) {
        if let Some(w) = self.words.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }

    /// Flips bit `i` (out-of-range indices are ignored).
    #[inline]
    pub fn flip(&mut self, i: usize) {
        if let Some(w) = self.words.get_mut(i / 64) {
            *w ^= 1 << (i % 64);
        }
    }

    /// `self ^= other`.
    #[inline]
    pub fn xor_assign(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a ^= b;
        }
    }

    /// `self |= other`.
    #[inline]
    pub fn or_assign(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// The number of one bits.
    pub fn count_ones(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether every bit is zero.
    pub fn is_zero(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// The packed words.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// The indices of the one bits, in increasing order.
    pub fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(k, &w)| {
            let mut w = w;
            core::iter::from_fn(move || {
                (w != 0).then(|| {
                    let i = w.trailing_zeros() as usize;
                    w &= w - 1;
                    64 * k + i
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_ones() {
        let mut b = Bits::zeros(200);
        for i in [0, 5, 63, 64, 130, 199] {
            b.set(i);
        }
        assert!(b.get(130) && !b.get(131));
        assert_eq!(b.ones().collect::<Vec<_>>(), vec![0, 5, 63, 64, 130, 199]);
        assert_eq!(b.count_ones(), 6);
        b.flip(5);
        assert_eq!(b.count_ones(), 5);
    }
}
