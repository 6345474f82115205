//! The Graph-shaped JSON view of a state (SPEC section 8). Kept in the engine (serde_json is used
//! only here) so that `replay --state json` and reports share one definition.

use crate::catalog::Catalog;
use crate::event::{PathState, Source};
use crate::model::{DisabledIdx, State};
use crate::{GroupIdx, SkuIdx};
use serde_json::{Value, json};

/// Formats simulated time as an ISO 8601 UTC timestamp, given the calendar start.
pub fn iso_time(start_unix_s: i64, time_ms: u64) -> String {
    let secs = start_unix_s + (time_ms / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // civil_from_days (Howard Hinnant's algorithm), integers only.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        y,
        m,
        d,
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` into seconds since 1970 (for scenario `start`).
pub fn parse_iso_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // days_from_civil
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn disabled_json(cat: &Catalog, st: &State, d: DisabledIdx) -> (Value, Value) {
    let set = &st.disabled_sets[d as usize];
    let guids: Vec<&str> = set.iter().map(|p| cat.plan(p).guid.as_str()).collect();
    let names: Vec<&str> = set.iter().map(|p| cat.plan(p).name.as_str()).collect();
    (json!(guids), json!(names))
}

fn license_json(cat: &Catalog, st: &State, sku: SkuIdx, d: DisabledIdx) -> Value {
    let (g, n) = disabled_json(cat, st, d);
    json!({"skuId": cat.sku(sku).guid, "skuPartNumber": cat.sku(sku).part_number,
           "disabledPlans": g, "disabledPlanNames": n})
}

/// The JSON state at `time_ms`.
pub fn state_json(
    cat: &Catalog,
    st: &State,
    domain: &str,
    start_unix_s: i64,
    time_ms: u64,
) -> Value {
    let mut skus: Vec<Value> = Vec::new();
    let mut order: Vec<SkuIdx> = (0..cat.skus.len() as SkuIdx).collect();
    order.sort_by(|a, b| cat.sku(*a).part_number.cmp(&cat.sku(*b).part_number));
    for s in order {
        let sub = &st.subscriptions[s as usize];
        if !sub.exists && sub.consumed == 0 {
            continue;
        }
        skus.push(
            json!({"skuId": cat.sku(s).guid, "skuPartNumber": cat.sku(s).part_number,
            "consumedUnits": sub.consumed,
            "prepaidUnits": {"enabled": sub.prepaid.enabled, "warning": sub.prepaid.warning,
                "suspended": sub.prepaid.suspended, "lockedOut": sub.prepaid.locked_out}}),
        );
    }
    let mut groups: Vec<(String, Value)> = Vec::new();
    for (gi, g) in st.groups.iter().enumerate().filter(|(_, g)| g.alive) {
        let mut lic: Vec<(&str, Value)> = g
            .licenses
            .iter()
            .map(|(s, d)| {
                (
                    cat.sku(*s).part_number.as_str(),
                    license_json(cat, st, *s, *d),
                )
            })
            .collect();
        lic.sort_by(|a, b| a.0.cmp(b.0));
        let mut errs: Vec<&str> = st
            .members_with_errors(gi as GroupIdx)
            .iter()
            .map(|u| st.users[*u as usize].name.as_ref())
            .collect();
        errs.sort();
        let mut v = json!({"id": g.name, "securityEnabled": g.security_enabled,
            "assignedLicenses": lic.into_iter().map(|x| x.1).collect::<Vec<_>>(),
            "licenseProcessingState": {"state": g.state.as_str()},
            "membersWithLicenseErrors": errs});
        if let Some(r) = &g.rule {
            v["membershipRule"] = json!(r.text);
        }
        groups.push((g.name.clone(), v));
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let mut users: Vec<(&str, Value)> = Vec::new();
    for u in st.users.iter().filter(|u| u.alive) {
        let mut paths: Vec<(&str, u8, &str, Value)> = Vec::new();
        let mut assigned: Vec<(&str, Value)> = Vec::new();
        let mut seen: Vec<SkuIdx> = Vec::new();
        for p in &u.paths {
            let (g, n) = disabled_json(cat, st, p.disabled);
            let (rank, by) = match p.source {
                Source::Direct => (0u8, ""),
                Source::Group(gi) => (1u8, st.groups[gi as usize].name.as_str()),
            };
            let by_json = match p.source {
                Source::Direct => Value::Null,
                Source::Group(_) => json!(by),
            };
            let part = cat.sku(p.sku).part_number.as_str();
            paths.push((
                part,
                rank,
                by,
                json!({"skuId": cat.sku(p.sku).guid, "skuPartNumber": part,
                "assignedByGroup": by_json, "state": p.state.as_str(), "error": p.error.as_str(),
                "disabledPlans": g, "disabledPlanNames": n,
                "lastUpdatedDateTime": iso_time(start_unix_s, p.updated_ms)}),
            ));
            if p.state != PathState::Error && !seen.contains(&p.sku) {
                seen.push(p.sku);
                // Graph: the user's disabledPlans are the intersection over applied paths (R04).
                let mut dis = cat.sku(p.sku).plans;
                for q in u
                    .paths
                    .iter()
                    .filter(|q| q.sku == p.sku && q.state.applied())
                {
                    dis = dis.intersect(&st.disabled_sets[q.disabled as usize]);
                }
                let guids: Vec<&str> = dis.iter().map(|x| cat.plan(x).guid.as_str()).collect();
                let names: Vec<&str> = dis.iter().map(|x| cat.plan(x).name.as_str()).collect();
                assigned.push((
                    part,
                    json!({"skuId": cat.sku(p.sku).guid, "skuPartNumber": part,
                    "disabledPlans": guids, "disabledPlanNames": names}),
                ));
            }
        }
        paths.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
        assigned.sort_by(|a, b| a.0.cmp(b.0));
        let upn = format!("{}@{}", u.name, domain);
        users.push((
            &*u.name,
            json!({"id": u.name, "userPrincipalName": upn,
            "usageLocation": u.usage_location.map(crate::catalog::loc_str),
            "assignedLicenses": assigned.into_iter().map(|x| x.1).collect::<Vec<_>>(),
            "licenseAssignmentStates": paths.into_iter().map(|x| x.3).collect::<Vec<_>>()}),
        ));
    }
    users.sort_by(|a, b| a.0.cmp(b.0));
    json!({"time_ms": time_ms, "subscribedSkus": skus,
        "groups": groups.into_iter().map(|x| x.1).collect::<Vec<_>>(),
        "users": users.into_iter().map(|x| x.1).collect::<Vec<_>>()})
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn iso_round_trip() {
        let t = parse_iso_time("2026-01-05T09:00:00Z").unwrap();
        assert_eq!(t, 1_767_603_600);
        assert_eq!(iso_time(t, 3_600_000), "2026-01-05T10:00:00Z");
        assert_eq!(iso_time(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            iso_time(parse_iso_time("2024-02-29T23:59:59Z").unwrap(), 1000),
            "2024-03-01T00:00:00Z"
        );
        assert!(parse_iso_time("2026-13-01T00:00:00Z").is_none());
    }
}
