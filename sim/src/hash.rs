//! Stable hashing and the seeded random number generator.
//!
//! Nothing here depends on the process, the platform or `std`'s randomised hashers: the same
//! input gives the same digest on every machine and every run, so digests can be compared
//! across machines and the same seed replays the same decisions.

/// FNV-1a, 64 bits: the trace digest. Byte-at-a-time and stable by definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    pub fn bytes(&mut self, data: &[u8]) {
        for &b in data {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    pub fn finish(self) -> u64 {
        self.0
    }
}

/// A fast stable content hash (8 bytes at a time, multiply-mix), used to intern blocks and to
/// summarise the data of reads and writes in the trace. Not cryptographic; collisions are
/// resolved by comparing contents wherever it matters.
pub fn content_hash(data: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = (data.len() as u64).wrapping_mul(K);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
    }
    let mut tail = [0u8; 8];
    let rest = chunks.remainder();
    tail[..rest.len()].copy_from_slice(rest);
    h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    mix64(h)
}

/// The splitmix64 finaliser: a bijective mix of 64 bits.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// splitmix64: the simulation's only source of randomness, seeded from `SimConfig::seed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRng {
    state: u64,
}

impl SimRng {
    pub fn new(seed: u64) -> Self {
        SimRng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.state)
    }

    /// A value in `0..n` (`0` when `n == 0`). The modulo bias is irrelevant at these sizes.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
}

/// A `Hasher` that passes an already-mixed `u64` key through: for maps keyed by
/// [`content_hash`] values. Only used where iteration order never reaches an output.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        let mut h = Fnv64::default();
        h.bytes(b"");
        assert_eq!(h.finish(), 0xcbf2_9ce4_8422_2325);
        let mut h = Fnv64::default();
        h.bytes(b"a");
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
        let mut h = Fnv64::default();
        h.bytes(b"foobar");
        assert_eq!(h.finish(), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn content_hash_is_stable_and_sees_every_byte_and_the_length() {
        assert_eq!(content_hash(b"hello world"), content_hash(b"hello world"));
        assert_ne!(content_hash(b"hello world"), content_hash(b"hello worle"));
        assert_ne!(content_hash(&[0; 8]), content_hash(&[0; 9]));
        assert_ne!(content_hash(&[0; 4096]), content_hash(&[0; 4095]));
    }

    #[test]
    fn rng_replays_the_same_stream_for_the_same_seed() {
        let a: Vec<u64> = {
            let mut r = SimRng::new(7);
            (0..5).map(|_| r.next_u64()).collect()
        };
        let mut r = SimRng::new(7);
        assert!(a.iter().all(|&v| v == r.next_u64()));
        let mut other = SimRng::new(8);
        assert_ne!(a[0], other.next_u64());
        assert_eq!(SimRng::new(1).below(0), 0);
    }
}
