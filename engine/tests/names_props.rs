//! `names::NameIndex` behaves as a map from name to index: random inserts, removals and
//! lookups against a `BTreeMap` model (names reused after removal, as users and groups are).
use engine::names::NameIndex;
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
enum Op {
    Insert(u8),
    Remove(u8),
    Get(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => any::<u8>().prop_map(Op::Insert),
        2 => any::<u8>().prop_map(Op::Remove),
        2 => any::<u8>().prop_map(Op::Get),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn name_index_matches_a_map(ops in proptest::collection::vec(op(), 1..400)) {
        // Records, as in State::users: a removed record keeps its name; a name can come back
        // as a new record.
        let mut names: Vec<String> = Vec::new();
        let mut index = NameIndex::default();
        let mut model: BTreeMap<String, u32> = BTreeMap::new();
        for o in ops {
            match o {
                Op::Insert(k) => {
                    let name = format!("user-{}", k % 97);
                    if let std::collections::btree_map::Entry::Vacant(e) = model.entry(name) {
                        let idx = names.len() as u32;
                        names.push(e.key().clone());
                        index.insert(e.key(), idx, |i| names[i as usize].as_str());
                        e.insert(idx);
                    }
                }
                Op::Remove(k) => {
                    let name = format!("user-{}", k % 97);
                    let got = index.remove(&name, |i| names[i as usize].as_str());
                    prop_assert_eq!(got, model.remove(&name));
                }
                Op::Get(k) => {
                    let name = format!("user-{}", k % 101);
                    let got = index.get(&name, |i| names[i as usize].as_str());
                    prop_assert_eq!(got, model.get(&name).copied());
                }
            }
            prop_assert_eq!(index.len(), model.len());
        }
        for (name, idx) in &model {
            prop_assert_eq!(index.get(name, |i| names[i as usize].as_str()), Some(*idx));
        }
    }
}
