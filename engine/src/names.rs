//! Name -> index lookup without a second copy of the names.
//!
//! [`NameIndex`] is an open-addressing hash table of dense indices (4 bytes a slot); the names
//! themselves stay in `State::users` / `State::groups`, and a lookup compares against them. It
//! replaces a `BTreeMap<String, u32>`, which held every name twice (about 40 bytes a user more)
//! and cost a string comparison per tree level.
//!
//! Determinism: the hash is the engine's fixed [`hash_bytes`] (no random seed) and the table is
//! never iterated, so its layout cannot reach state, hashes, log bytes or reports.

use crate::hash::hash_bytes;

const EMPTY: u32 = u32::MAX;
/// A removed entry: lookups probe past it; inserts may reuse it.
const TOMB: u32 = u32::MAX - 1;
/// The largest index the table can hold.
pub const MAX_INDEX: u32 = TOMB - 1;

#[derive(Clone, Debug, Default)]
pub struct NameIndex {
    /// Power-of-two length (or empty); each slot is EMPTY, TOMB or an index.
    slots: Vec<u32>,
    /// Live entries.
    len: usize,
    /// Live entries plus tombstones.
    used: usize,
}

impl NameIndex {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * 4
    }

    #[inline]
    fn start(&self, name: &str) -> usize {
        // `hash_bytes` ends in a full avalanche mix, so its low bits are as good as any.
        let h = hash_bytes(name.as_bytes());
        (h as usize) & (self.slots.len() - 1)
    }

    /// The index named `name`; `name_of` gives the name of an indexed entry.
    pub fn get<'a>(&self, name: &str, name_of: impl Fn(u32) -> &'a str) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.start(name);
        loop {
            match self.slots[i] {
                EMPTY => return None,
                TOMB => {}
                idx if name_of(idx) == name => return Some(idx),
                _ => {}
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds `idx` under `name`, which must not be indexed yet. `name_of` must already give
    /// `name` for `idx`.
    pub fn insert<'a>(&mut self, name: &str, idx: u32, name_of: impl Fn(u32) -> &'a str) {
        debug_assert!(idx <= MAX_INDEX);
        // Keep the load (live + tombstones) at most 1/2, so probes stay short.
        if (self.used + 1) * 2 > self.slots.len() {
            self.rebuild((self.len + 1) * 2, &name_of);
        }
        let mask = self.slots.len() - 1;
        let mut i = self.start(name);
        loop {
            match self.slots[i] {
                EMPTY => {
                    self.used += 1;
                    break;
                }
                TOMB => break,
                _ => i = (i + 1) & mask,
            }
        }
        self.slots[i] = idx;
        self.len += 1;
    }

    /// Removes the entry named `name`; returns its index.
    pub fn remove<'a>(&mut self, name: &str, name_of: impl Fn(u32) -> &'a str) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.start(name);
        loop {
            match self.slots[i] {
                EMPTY => return None,
                TOMB => {}
                idx if name_of(idx) == name => {
                    self.slots[i] = TOMB;
                    self.len -= 1;
                    return Some(idx);
                }
                _ => {}
            }
            i = (i + 1) & mask;
        }
    }

    /// Re-inserts the live entries into a table of at least `min_slots` slots.
    fn rebuild<'a>(&mut self, min_slots: usize, name_of: &impl Fn(u32) -> &'a str) {
        let n = min_slots.next_power_of_two().max(16);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; n]);
        let mask = n - 1;
        for idx in old.into_iter().filter(|x| *x < TOMB) {
            let mut i = self.start(name_of(idx));
            while self.slots[i] != EMPTY {
                i = (i + 1) & mask;
            }
            self.slots[i] = idx;
        }
        self.used = self.len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove_and_reuse() {
        let names: Vec<String> = (0..5000).map(|i| format!("user{i}@contoso")).collect();
        let of = |i: u32| names[i as usize].as_str();
        let mut ix = NameIndex::default();
        for i in 0..5000u32 {
            assert_eq!(ix.get(&names[i as usize], of), None);
            ix.insert(&names[i as usize], i, of);
        }
        assert_eq!(ix.len(), 5000);
        for i in 0..5000u32 {
            assert_eq!(ix.get(&names[i as usize], of), Some(i));
        }
        assert_eq!(ix.get("nobody", of), None);
        for i in (0..5000u32).step_by(2) {
            assert_eq!(ix.remove(&names[i as usize], of), Some(i));
            assert_eq!(ix.remove(&names[i as usize], of), None);
        }
        for i in 0..5000u32 {
            let want = (i % 2 == 1).then_some(i);
            assert_eq!(ix.get(&names[i as usize], of), want);
        }
        // Removed names can come back (tombstones are reused or rebuilt away).
        for _ in 0..3 {
            for i in (0..5000u32).step_by(2) {
                ix.insert(&names[i as usize], i, of);
            }
            for i in (0..5000u32).step_by(2) {
                ix.remove(&names[i as usize], of);
            }
        }
        assert_eq!(ix.len(), 2500);
        assert!(
            ix.slots.len() <= 16384,
            "tombstones must not grow the table"
        );
        for i in 0..5000u32 {
            let want = (i % 2 == 1).then_some(i);
            assert_eq!(ix.get(&names[i as usize], of), want);
        }
    }
}

/// Counts by 64-bit hash key (the proxy-address index of R18: address hash -> live holders),
/// in an open-addressing table. One random access per update where a B-tree of a million keys
/// costs several. Like [`NameIndex`], never iterated: its layout reaches no output.
#[derive(Clone, Debug, Default)]
pub struct HashCounts {
    keys: Vec<u64>,
    /// 0: empty slot; `u32::MAX`: removed entry (probes go on past it); else the count.
    counts: Vec<u32>,
    len: usize,
    used: usize,
}

const GONE: u32 = u32::MAX;

impl HashCounts {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot holding `key`, or None.
    fn find(&self, key: u64) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mask = self.keys.len() - 1;
        let mut i = (key as usize) & mask;
        loop {
            match self.counts[i] {
                0 => return None,
                GONE => {}
                _ if self.keys[i] == key => return Some(i),
                _ => {}
            }
            i = (i + 1) & mask;
        }
    }

    /// The count of `key` (0 when absent).
    pub fn get(&self, key: u64) -> u32 {
        self.find(key).map_or(0, |i| self.counts[i])
    }

    /// Adds one to `key`'s count; returns the new count.
    pub fn increment(&mut self, key: u64) -> u32 {
        if let Some(i) = self.find(key) {
            self.counts[i] = self.counts[i].saturating_add(1).min(GONE - 1);
            return self.counts[i];
        }
        if (self.used + 1) * 2 > self.keys.len() {
            self.rebuild((self.len + 1) * 2);
        }
        let mask = self.keys.len() - 1;
        let mut i = (key as usize) & mask;
        loop {
            match self.counts[i] {
                0 => {
                    self.used += 1;
                    break;
                }
                GONE => break,
                _ => i = (i + 1) & mask,
            }
        }
        self.keys[i] = key;
        self.counts[i] = 1;
        self.len += 1;
        1
    }

    /// Takes one from `key`'s count (an absent key stays absent); returns the new count. An
    /// entry whose count reaches 0 is removed.
    pub fn decrement(&mut self, key: u64) -> u32 {
        let Some(i) = self.find(key) else {
            return 0;
        };
        self.counts[i] -= 1;
        if self.counts[i] == 0 {
            self.counts[i] = GONE;
            self.len -= 1;
            return 0;
        }
        self.counts[i]
    }

    fn rebuild(&mut self, min_slots: usize) {
        let n = min_slots.next_power_of_two().max(16);
        let keys = std::mem::replace(&mut self.keys, vec![0; n]);
        let counts = std::mem::replace(&mut self.counts, vec![0; n]);
        let mask = n - 1;
        for (k, c) in keys.into_iter().zip(counts) {
            if c == 0 || c == GONE {
                continue;
            }
            let mut i = (k as usize) & mask;
            while self.counts[i] != 0 {
                i = (i + 1) & mask;
            }
            self.keys[i] = k;
            self.counts[i] = c;
        }
        self.used = self.len;
    }
}

#[cfg(test)]
mod hash_counts_tests {
    use super::*;

    #[test]
    fn counts_go_up_and_down_and_vanish_at_zero() {
        let mut h = HashCounts::default();
        // Keys that collide in the low bits probe past each other.
        let keys: Vec<u64> = (0..3000u64).map(|i| i << 20 | 7).collect();
        for k in &keys {
            assert_eq!(h.increment(*k), 1);
        }
        assert_eq!(h.increment(keys[5]), 2);
        assert_eq!(h.get(keys[5]), 2);
        assert_eq!(h.len(), 3000);
        for k in keys.iter().step_by(2) {
            assert_eq!(h.decrement(*k), if *k == keys[5] { 1 } else { 0 });
        }
        assert_eq!(h.decrement(12345), 0);
        for (j, k) in keys.iter().enumerate() {
            let want = if j % 2 == 1 { 1 } else { 0 };
            let want = if j == 5 { 2 } else { want };
            assert_eq!(h.get(*k), want, "key {j}");
        }
        for _ in 0..4 {
            for k in keys.iter().step_by(2) {
                h.increment(*k);
            }
            for k in keys.iter().step_by(2) {
                h.decrement(*k);
            }
        }
        assert_eq!(h.len(), 1500);
        assert!(
            h.keys.len() <= 8192,
            "removed entries must not grow the table"
        );
    }
}
