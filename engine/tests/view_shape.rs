//! The JSON state keeps the names and shape of SPEC section 8 (Graph's).

mod common;
use common::*;

fn keys(v: &serde_json::Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(|s| s.as_str()).collect();
    k.sort();
    k
}

#[test]
fn state_json_has_graph_names_and_shape() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("user0001");
    let g = t.group("all-users", &[u]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    let j = t.sim.state_json();
    assert_eq!(
        keys(&j),
        vec!["groups", "subscribedSkus", "time_ms", "users"]
    );
    let sku = &j["subscribedSkus"][0];
    assert_eq!(
        keys(sku),
        vec!["consumedUnits", "prepaidUnits", "skuId", "skuPartNumber"]
    );
    assert_eq!(sku["skuId"], "6fd2c87f-b296-42f0-b197-1e91e994b900");
    assert_eq!(
        keys(&sku["prepaidUnits"]),
        vec!["enabled", "lockedOut", "suspended", "warning"]
    );
    let grp = &j["groups"][0];
    for k in [
        "id",
        "securityEnabled",
        "assignedLicenses",
        "licenseProcessingState",
        "membersWithLicenseErrors",
    ] {
        assert!(grp.get(k).is_some(), "group key {k}");
    }
    assert_eq!(grp["licenseProcessingState"]["state"], "ProcessingComplete");
    for k in [
        "skuId",
        "skuPartNumber",
        "disabledPlans",
        "disabledPlanNames",
    ] {
        assert!(grp["assignedLicenses"][0].get(k).is_some(), "{k}");
    }
    let user = &j["users"][0];
    assert_eq!(
        keys(user),
        vec![
            "assignedLicenses",
            "id",
            "licenseAssignmentStates",
            "usageLocation",
            "userPrincipalName"
        ]
    );
    assert_eq!(user["userPrincipalName"], "user0001@contoso.example");
    let st = &user["licenseAssignmentStates"][0];
    assert_eq!(
        keys(st),
        vec![
            "assignedByGroup",
            "disabledPlanNames",
            "disabledPlans",
            "error",
            "lastUpdatedDateTime",
            "skuId",
            "skuPartNumber",
            "state"
        ]
    );
    assert_eq!(st["assignedByGroup"], "all-users");
    assert_eq!(st["state"], "Active");
    assert_eq!(st["error"], "None");
    assert_eq!(st["lastUpdatedDateTime"], "2026-01-05T09:00:31Z");
}
