//! Hash tables of the engine's indices, never iterated.
//!
//! [`NameIndex`] maps a name to a dense index without a second copy of the names: its slots
//! hold indices (4 bytes each) and a lookup compares against the names kept in
//! `State::users` / `State::groups`. It replaces a `BTreeMap<String, u32>`, which held every name
//! twice (about 40 bytes a user more) and cost a string comparison per tree level.
//! [`HashCounts`] counts by 64-bit key (the proxy-address index of R18: address hash -> live
//! holders): one random access per update, where a B-tree of a million keys costs several.
//!
//! Both are one mechanism, [`Table`]: linear probing from a hash, removed entries left as
//! tombstones that lookups probe past, the load (live + removed) kept at most 1/2, a rebuild
//! that drops the tombstones.
//!
//! Determinism: hashes are the engine's fixed [`hash_bytes`] or keys that already are such
//! hashes (no random seed), and no table is ever iterated, so their layout cannot reach state,
//! hashes, log bytes or reports.

use crate::hash::hash_bytes;

/// A slot of a [`Table`]: empty, removed, or live.
trait Slot: Copy {
    const EMPTY: Self;
    const TOMB: Self;
    fn is_empty(&self) -> bool;
    fn is_tomb(&self) -> bool;
}

/// Open addressing with linear probing (see the module documentation).
#[derive(Clone, Debug)]
struct Table<T> {
    /// Power-of-two length (or empty).
    slots: Vec<T>,
    /// Live entries.
    len: usize,
    /// Live entries plus tombstones.
    used: usize,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            slots: Vec::new(),
            len: 0,
            used: 0,
        }
    }
}

impl<T: Slot> Table<T> {
    /// The position of the live slot `is` accepts, probing from hash `h`.
    fn find(&self, h: u64, is: impl Fn(&T) -> bool) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = h as usize & mask;
        loop {
            let s = &self.slots[i];
            if s.is_empty() {
                return None;
            }
            if !s.is_tomb() && is(s) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Stores `v`, whose key is not in the table, under hash `h`; `hash_of` gives the hash of
    /// a live slot when the table is rebuilt.
    fn insert(&mut self, h: u64, v: T, hash_of: impl Fn(&T) -> u64) {
        if (self.used + 1) * 2 > self.slots.len() {
            self.rebuild(hash_of);
        }
        let mask = self.slots.len() - 1;
        let mut i = h as usize & mask;
        loop {
            let s = &self.slots[i];
            if s.is_empty() {
                self.used += 1;
                break;
            }
            if s.is_tomb() {
                break;
            }
            i = (i + 1) & mask;
        }
        self.slots[i] = v;
        self.len += 1;
    }

    /// Removes the live slot at `i` (a position from [`Table::find`]).
    fn remove_at(&mut self, i: usize) {
        self.slots[i] = T::TOMB;
        self.len -= 1;
    }

    /// Re-inserts the live slots into a table with room for one more at load 1/2.
    fn rebuild(&mut self, hash_of: impl Fn(&T) -> u64) {
        let n = ((self.len + 1) * 2).next_power_of_two().max(16);
        let old = std::mem::replace(&mut self.slots, vec![T::EMPTY; n]);
        let mask = n - 1;
        for s in old.into_iter().filter(|s| !s.is_empty() && !s.is_tomb()) {
            let mut i = hash_of(&s) as usize & mask;
            while !self.slots[i].is_empty() {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
        self.used = self.len;
    }
}

impl Slot for u32 {
    const EMPTY: u32 = u32::MAX;
    const TOMB: u32 = u32::MAX - 1;
    fn is_empty(&self) -> bool {
        *self == Self::EMPTY
    }
    fn is_tomb(&self) -> bool {
        *self == Self::TOMB
    }
}

/// The largest index a [`NameIndex`] can hold.
pub const MAX_INDEX: u32 = <u32 as Slot>::TOMB - 1;

/// Name -> dense index (users, groups); the names stay in the records.
#[derive(Clone, Debug, Default)]
pub struct NameIndex {
    table: Table<u32>,
}

/// `hash_bytes` ends in a full avalanche mix, so its low bits index the table well.
fn name_hash(name: &str) -> u64 {
    hash_bytes(name.as_bytes())
}

impl NameIndex {
    pub fn len(&self) -> usize {
        self.table.len
    }
    pub fn is_empty(&self) -> bool {
        self.table.len == 0
    }

    /// The index named `name`; `name_of` gives the name of an indexed entry.
    pub fn get<'a>(&self, name: &str, name_of: impl Fn(u32) -> &'a str) -> Option<u32> {
        let i = self
            .table
            .find(name_hash(name), |idx| name_of(*idx) == name)?;
        Some(self.table.slots[i])
    }

    /// Adds `idx` under `name`, which must not be indexed yet. `name_of` must already give
    /// `name` for `idx`.
    pub fn insert<'a>(&mut self, name: &str, idx: u32, name_of: impl Fn(u32) -> &'a str) {
        debug_assert!(idx <= MAX_INDEX);
        self.table
            .insert(name_hash(name), idx, |i| name_hash(name_of(*i)));
    }

    /// Removes the entry named `name`; returns its index.
    pub fn remove<'a>(&mut self, name: &str, name_of: impl Fn(u32) -> &'a str) -> Option<u32> {
        let i = self
            .table
            .find(name_hash(name), |idx| name_of(*idx) == name)?;
        let idx = self.table.slots[i];
        self.table.remove_at(i);
        Some(idx)
    }
}

/// A key and its count; packed to 12 bytes (a million keys take two million slots).
#[derive(Clone, Copy, Debug)]
#[repr(C, packed(4))]
struct Count {
    key: u64,
    /// 0: empty slot; `u32::MAX`: removed entry; else the count.
    count: u32,
}

impl Slot for Count {
    const EMPTY: Count = Count { key: 0, count: 0 };
    const TOMB: Count = Count {
        key: 0,
        count: u32::MAX,
    };
    fn is_empty(&self) -> bool {
        self.count == 0
    }
    fn is_tomb(&self) -> bool {
        self.count == u32::MAX
    }
}

/// Counts by 64-bit key, the key being a hash already (used as the table hash as it is).
#[derive(Clone, Debug, Default)]
pub struct HashCounts {
    table: Table<Count>,
}

impl HashCounts {
    pub fn len(&self) -> usize {
        self.table.len
    }
    pub fn is_empty(&self) -> bool {
        self.table.len == 0
    }

    fn find(&self, key: u64) -> Option<usize> {
        self.table.find(key, |c| c.key == key)
    }

    /// The count of `key` (0 when absent).
    pub fn get(&self, key: u64) -> u32 {
        self.find(key).map_or(0, |i| self.table.slots[i].count)
    }

    /// Adds one to `key`'s count; returns the new count.
    pub fn increment(&mut self, key: u64) -> u32 {
        if let Some(i) = self.find(key) {
            let c = &mut self.table.slots[i];
            c.count = c.count.saturating_add(1).min(u32::MAX - 1);
            return c.count;
        }
        self.table.insert(key, Count { key, count: 1 }, |c| c.key);
        1
    }

    /// Takes one from `key`'s count (an absent key stays absent); returns the new count. An
    /// entry whose count reaches 0 is removed.
    pub fn decrement(&mut self, key: u64) -> u32 {
        let Some(i) = self.find(key) else {
            return 0;
        };
        let c = &mut self.table.slots[i];
        c.count -= 1;
        let n = c.count;
        if n == 0 {
            self.table.remove_at(i);
        }
        n
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
            ix.table.slots.len() <= 16384,
            "tombstones must not grow the table"
        );
        for i in 0..5000u32 {
            let want = (i % 2 == 1).then_some(i);
            assert_eq!(ix.get(&names[i as usize], of), want);
        }
    }
}

#[cfg(test)]
mod hash_counts_tests {
    use super::*;

    #[test]
    fn counts_go_up_and_down_and_vanish_at_zero() {
        assert_eq!(std::mem::size_of::<Count>(), 12);
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
            h.table.slots.len() <= 8192,
            "removed entries must not grow the table"
        );
    }
}
