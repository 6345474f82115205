mod common;
use common::*;
use engine::prelude::*;

#[test]
fn group_assignment_reaches_every_member() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 10);
    let us: Vec<UserIdx> = (0..3).map(|i| t.user(&format!("u{i}"))).collect();
    let g = t.group("all", &us);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    assert_eq!(t.group_state(g), ProcessingState::QueuedForProcessing);
    t.settle();
    assert_eq!(t.group_state(g), ProcessingState::ProcessingComplete);
    for u in us {
        assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
    }
    assert_eq!(t.consumed("ENTERPRISEPACK"), 3);
    t.check_invariants();
}
