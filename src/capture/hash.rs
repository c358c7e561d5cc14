//! The hasher of the per-stream tables (TCP directions, decoder stream buffers). Every TCP
//! segment looks its direction up two or three times and every payload its stream buffer once;
//! with the standard SipHash those lookups cost more than the reassembly around them. This is a
//! folded-multiply hash over eight-byte words (as foldhash and ahash do), seeded once
//! per run from the standard library's random keys, so a capture crafted for collisions on one
//! run does not collide on the next.

use std::hash::{BuildHasher, Hasher};

/// Builds [`Fast`] hashers with this run's seed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastHash {
    seed: u64,
}

impl Default for FastHash {
    fn default() -> FastHash {
        // `RandomState` draws its keys from the OS once per process; hash a constant with it to
        // get a seed without another source of randomness.
        FastHash {
            seed: std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64) | 1,
        }
    }
}

impl BuildHasher for FastHash {
    type Hasher = Fast;

    fn build_hasher(&self) -> Fast {
        Fast { h: self.seed }
    }
}

/// The state of one hash.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fast {
    h: u64,
}

const K: u64 = 0xf135_7aea_2e62_a9c5;

impl Fast {
    /// Folded multiply (the 128-bit product's halves xored): every bit of the word reaches
    /// every bit of the state.
    #[inline]
    fn add(&mut self, w: u64) {
        let full = u128::from(self.h ^ w) * u128::from(K);
        self.h = (full as u64) ^ ((full >> 64) as u64);
    }
}

impl Hasher for Fast {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length keeps `ab` and `ab\0` apart.
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Folded multiply: every input bit reaches the high bits hashbrown takes its control
        // byte from and the low bits it takes the bucket from.
        let full = u128::from(self.h) * u128::from(K ^ 0x9e37_79b9_7f4a_7c15);
        (full as u64) ^ ((full >> 64) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_equal_and_near_keys_apart() {
        let s = FastHash::default();
        let a: [u8; 38] = [7; 38];
        let mut b = a;
        assert_eq!(s.hash_one(a), s.hash_one(a));
        let mut seen = std::collections::HashSet::new();
        for i in 0..38 {
            for bit in 0..8 {
                b[i] ^= 1 << bit;
                assert!(seen.insert(s.hash_one(b)), "byte {i} bit {bit}");
                b[i] ^= 1 << bit;
            }
        }
        assert_ne!(s.hash_one(&b"ab"[..]), s.hash_one(&b"ab\0"[..]));
        // Sequential stream ids spread over the low bits (bucket index) and the top seven.
        let lows: std::collections::HashSet<u64> = (0..64u64).map(|i| s.hash_one(i) & 63).collect();
        let highs: std::collections::HashSet<u64> =
            (0..64u64).map(|i| s.hash_one(i) >> 57).collect();
        assert!(
            lows.len() > 32 && highs.len() > 32,
            "{} {}",
            lows.len(),
            highs.len()
        );
    }

    #[test]
    fn a_map_with_it_works_like_any_map() {
        let mut m: std::collections::HashMap<u64, u64, FastHash> = Default::default();
        for i in 0..10_000 {
            m.insert(i * 7, i);
        }
        assert!((0..10_000).all(|i| m.get(&(i * 7)) == Some(&i)));
        assert_eq!(m.get(&1), None);
    }
}
