//! The capacity benchmark's tenant workload (issue 5, ARCHITECTURE.md "Performance targets"): a
//! tenant of any size with a realistic mix of events, and its `.simlog`. Pure functions of (size,
//! seed): no clock here — `measure` and `cargo bench` time them.
//!
//! The tenant workload ([`drive`]) for `n` users, in simulated time:
//! - day 0: subscriptions (E3 and EMS for everyone, E5, EMS E5 and Microsoft 365 E3 scarce), `n`
//!   users (2% without usage location, 0.1% with a proxy address of another user), direct E3 for
//!   40% and direct E1 for 10%; `n / 250` static "team" groups (every user in one, by index) and
//!   `n / 1000` "site" groups (blocks of 1,000, a third of them on-premises, synced), each team and
//!   half the sites licensed (E3, E3 with Sway and Yammer disabled, E3 + EMS, E5; EMS or E1 on
//!   sites: E1 + E3 is a SharePoint conflict), and two dynamic groups by department.
//! - day 1: the migration — every direct E3 user whose team gives E3 loses the direct path, in
//!   ten hourly waves.
//! - day 2: membership churn (5% change team), department changes (1%, dynamic groups follow).
//! - day 3: 10% of the E3 teams swap E3 for Microsoft 365 E3 in one call (R19).
//! - day 4: more E5 units, `reprocess group` on the E5 teams, `reprocess user` for 1%.
//! - day 5: the duplicated proxy addresses are fixed and those users reprocessed.
//! - day 6: 1% of users deleted; the E1 site licenses removed.
//! - day 7: the unlicensed E1 sites deleted; 2% new users join teams.
//!
//! then the engine runs to quiescence. Every group has a bounded size and per-user work is
//! bounded, so the cost should grow linearly with `n`.
//!
//! Logs are `engine::log`'s `.simlog`, with the state-hash checkpoint interval scaled to the
//! tenant ([`checkpoint_every`]), so that hashing stays O(1) per event at any size.

use engine::prelude::*;
use std::sync::Arc;

/// Users per team group and per site group.
pub const TEAM_SIZE: u32 = 250;
pub const SITE_SIZE: u32 = 1_000;
/// Pending events are handed to the sink in chunks of about this many.
pub const CHUNK: usize = 16_384;

const DEPARTMENTS: [&str; 8] = [
    "Finance",
    "Sales",
    "Engineering",
    "Support",
    "Marketing",
    "Legal",
    "HR",
    "Operations",
];
const LOCATIONS: [Loc; 6] = [*b"US", *b"GB", *b"DE", *b"FR", *b"IN", *b"JP"];

/// SplitMix64 of (seed, i): the workload's only source of variety.
fn mix(seed: u64, i: u64) -> u64 {
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(i.wrapping_mul(0xBF58_476D_1CE4_E5B9))
        .wrapping_add(0x94D0_49BB_1331_11EB);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The SKUs the workloads use.
#[derive(Clone, Copy, Debug)]
pub struct Skus {
    pub e1: SkuIdx,
    pub e3: SkuIdx,
    pub e5: SkuIdx,
    pub ems: SkuIdx,
    pub ems_e5: SkuIdx,
    pub m365_e3: SkuIdx,
}

impl Skus {
    pub fn of(cat: &Catalog) -> Skus {
        let s = |n: &str| cat.sku_by_name(n).expect("built-in SKU");
        Skus {
            e1: s("STANDARDPACK"),
            e3: s("ENTERPRISEPACK"),
            e5: s("ENTERPRISEPREMIUM"),
            ems: s("EMS"),
            ems_e5: s("EMSPREMIUM"),
            m365_e3: s("SPE_E3"),
        }
    }
}

/// The built-in catalogue (profile `current`) the workloads run on.
pub fn catalog() -> Arc<Catalog> {
    Arc::new(Catalog::builtin(RulesProfile::Current))
}

/// The engine configuration of a workload run.
pub fn config(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        ..SimConfig::default()
    }
}

/// Calls `emit(time_ms, input)` for every input of the tenant workload of `n` users, in time
/// order. A pure function of (`n`, `seed`).
pub fn inputs(cat: &Catalog, n: u32, seed: u64, emit: &mut dyn FnMut(u64, Input)) {
    let k = Skus::of(cat);
    let n = n.max(1);
    let h = |i: u32| mix(seed, i as u64);
    let user_name = |i: u32| format!("u{i:08}");
    let teams = (n / TEAM_SIZE).max(2);
    let sites = n.div_ceil(SITE_SIZE);
    let team_of = |i: u32| i % teams;
    let loc_of = |i: u32| {
        if h(i) % 50 == 0 {
            None
        } else {
            Some(LOCATIONS[(h(i) >> 8) as usize % LOCATIONS.len()])
        }
    };
    let dept_of = |i: u32| DEPARTMENTS[(h(i) >> 16) as usize % DEPARTMENTS.len()];
    // Direct licences: 40% E3, 10% E1 (only users with a usage location, R06).
    let direct_of = |i: u32| match (loc_of(i), h(i) >> 24 & 0xF) {
        (None, _) => None,
        (Some(_), 0..=5) => Some(k.e3),
        (Some(_), 6..=7) => Some(k.e1),
        _ => None,
    };
    // Team licences by team index.
    let disabled_e3: Vec<PlanIdx> = ["SWAY", "YAMMER_ENTERPRISE"]
        .iter()
        .filter_map(|p| cat.plan_by_name(p))
        .filter(|p| cat.sku(k.e3).plans.contains(*p))
        .collect();
    let team_licenses = |g: u32| -> Vec<LicenseSpec> {
        match g % 4 {
            0 => vec![LicenseSpec::new(k.e3)],
            1 => vec![LicenseSpec {
                sku: k.e3,
                disabled: disabled_e3.clone(),
            }],
            2 => vec![LicenseSpec::new(k.e3), LicenseSpec::new(k.ems)],
            _ => vec![LicenseSpec::new(k.e5)],
        }
    };
    let team_gives_e3 = |g: u32| g % 4 != 3;
    let units = |enabled: u32| PrepaidUnits {
        enabled,
        ..Default::default()
    };

    // ---- day 0: subscriptions, users, groups -----------------------------------------------
    let mut t = 0u64;
    for (sku, u) in [
        (k.e1, n / 4 + 10),
        (k.e3, n + n / 10 + 10),
        (k.e5, n / 20 + 1),
        (k.ems, n + 10),
        (k.ems_e5, n / 10 + 1),
        (k.m365_e3, n / 5 + 10),
    ] {
        emit(
            t,
            Input::SetUnits {
                sku,
                units: units(u),
            },
        );
    }
    for i in 0..n {
        t = (i / 1_000) as u64 * SECOND;
        let proxy_addresses = if i % 1_000 == 999 {
            // A stale address of the previous user: a uniqueness conflict for both (R18).
            vec![format!("smtp:{}@contoso.example", user_name(i - 1))]
        } else {
            vec![]
        };
        emit(
            t,
            Input::CreateUser {
                name: user_name(i),
                usage_location: loc_of(i),
                proxy_addresses,
                attributes: vec![("department".into(), dept_of(i).into())],
            },
        );
        if let Some(sku) = direct_of(i) {
            emit(
                t,
                Input::AssignUserLicense {
                    user: i,
                    add: vec![LicenseSpec::new(sku)],
                    remove: vec![],
                },
            );
        }
    }
    t += MINUTE;
    // Group indices: teams 0..teams, then sites, then the two dynamic groups.
    for g in 0..teams {
        emit(
            t,
            Input::CreateGroup {
                name: format!("team-{g:06}"),
                security_enabled: true,
                source: GroupSource::Cloud,
                rule: None,
                members: (g..n).step_by(teams as usize).map(Member::User).collect(),
                evaluate_now: false,
            },
        );
        emit(
            t,
            Input::AssignGroupLicense {
                group: g,
                add: team_licenses(g),
                remove: vec![],
            },
        );
    }
    let site_group = |s: u32| teams + s;
    for s in 0..sites {
        let members = (s * SITE_SIZE..((s + 1) * SITE_SIZE).min(n))
            .map(Member::User)
            .collect();
        emit(
            t,
            Input::CreateGroup {
                name: format!("site-{s:05}"),
                security_enabled: true,
                source: if s % 3 == 2 {
                    GroupSource::OnPremises
                } else {
                    GroupSource::Cloud
                },
                rule: None,
                members,
                evaluate_now: false,
            },
        );
        let add = match s % 10 {
            0 | 2 | 4 | 6 => vec![LicenseSpec::new(k.ems)],
            1 => vec![LicenseSpec::new(k.e1)],
            _ => vec![],
        };
        if !add.is_empty() {
            emit(
                t,
                Input::AssignGroupLicense {
                    group: site_group(s),
                    add,
                    remove: vec![],
                },
            );
        }
    }
    for (j, (rule, sku)) in [
        ("user.department == \"Finance\"", k.ems_e5),
        ("department -in [\"Legal\", \"HR\"]", k.m365_e3),
    ]
    .into_iter()
    .enumerate()
    {
        emit(
            t,
            Input::CreateGroup {
                name: format!("dynamic-{j}"),
                security_enabled: true,
                source: GroupSource::Cloud,
                rule: Some(rule.into()),
                members: vec![],
                evaluate_now: true,
            },
        );
        emit(
            t,
            Input::AssignGroupLicense {
                group: teams + sites + j as u32,
                add: vec![LicenseSpec::new(sku)],
                remove: vec![],
            },
        );
    }

    // ---- day 1: the migration, in ten hourly waves ------------------------------------------
    t = DAY;
    let wave = n.div_ceil(10);
    for i in 0..n {
        if i % wave == 0 {
            t += HOUR;
            emit(
                t,
                Input::Marker(Marker::WaveStart {
                    step: 1,
                    wave: i / wave + 1,
                    users: wave.min(n - i),
                }),
            );
        }
        if direct_of(i) == Some(k.e3) && team_gives_e3(team_of(i)) {
            emit(
                t,
                Input::AssignUserLicense {
                    user: i,
                    add: vec![],
                    remove: vec![k.e3],
                },
            );
        }
    }

    // ---- day 2: membership churn and attribute changes -------------------------------------
    t = 2 * DAY;
    for i in 0..n {
        if i % 1_000 == 0 {
            t += MINUTE;
        }
        if h(i) >> 32 & 0x1F == 0 {
            let (from, to) = (team_of(i), (team_of(i) + 1) % teams);
            emit(
                t,
                Input::RemoveMembers {
                    group: from,
                    members: vec![Member::User(i)],
                },
            );
            emit(
                t,
                Input::AddMembers {
                    group: to,
                    members: vec![Member::User(i)],
                },
            );
        }
        if h(i) >> 40 & 0x7F == 1 {
            emit(
                t,
                Input::SetAttribute {
                    user: i,
                    key: "department".into(),
                    value: Some(DEPARTMENTS[(h(i) >> 48) as usize % 8].into()),
                },
            );
        }
    }

    // ---- day 3: E3 -> Microsoft 365 E3 on 10% of the E3 teams, in one call each --------------
    t = 3 * DAY;
    for g in (0..teams).filter(|g| g % 4 == 0 && g % 40 == 0) {
        emit(
            t,
            Input::AssignGroupLicense {
                group: g,
                add: vec![LicenseSpec::new(k.m365_e3)],
                remove: vec![k.e3],
            },
        );
    }

    // ---- day 4: more E5 units, reprocessing ---------------------------------------------------
    t = 4 * DAY;
    emit(
        t,
        Input::Purchase {
            sku: k.e5,
            units: (n / 20) as i64,
        },
    );
    t += MINUTE;
    for g in (0..teams).filter(|g| g % 4 == 3) {
        emit(t, Input::ReprocessGroup { group: g });
    }
    for i in (0..n).filter(|i| h(*i) >> 52 & 0x7F == 2) {
        emit(t, Input::ReprocessUser { user: i });
    }

    // ---- day 5: proxy conflicts fixed ---------------------------------------------------------
    t = 5 * DAY;
    for i in (999..n).step_by(1_000) {
        emit(
            t,
            Input::SetProxyAddresses {
                user: i,
                addresses: vec![format!("smtp:{}@contoso.example", user_name(i))],
            },
        );
        emit(t, Input::ReprocessUser { user: i });
        emit(t, Input::ReprocessUser { user: i - 1 });
    }

    // ---- day 6: departures; E1 site licenses removed ----------------------------------------
    t = 6 * DAY;
    for i in (0..n).filter(|i| h(*i) >> 56 & 0x3F == 3) {
        emit(t, Input::DeleteUser { user: i });
    }
    for s in (0..sites).filter(|s| s % 10 == 1) {
        emit(
            t,
            Input::AssignGroupLicense {
                group: site_group(s),
                add: vec![],
                remove: vec![k.e1],
            },
        );
    }

    // ---- day 7: E1 sites deleted, new hires ---------------------------------------------------
    t = 7 * DAY;
    for s in (0..sites).filter(|s| s % 10 == 1) {
        emit(
            t,
            Input::DeleteGroup {
                group: site_group(s),
            },
        );
    }
    let hires = (n / 50).max(1);
    for j in 0..hires {
        let i = n + j;
        emit(
            t,
            Input::CreateUser {
                name: format!("v{j:08}"),
                usage_location: Some(LOCATIONS[j as usize % LOCATIONS.len()]),
                proxy_addresses: vec![],
                attributes: vec![("department".into(), dept_of(i).into())],
            },
        );
        emit(
            t,
            Input::AddMembers {
                group: team_of(i),
                members: vec![Member::User(i)],
            },
        );
    }
    emit(t, Input::Marker(Marker::PlanEnd));
}

/// How long the engine may run after the last input (simulated ms).
pub const END_LIMIT_MS: u64 = 60 * DAY;

/// What a workload run produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Input and outcome events.
    pub events: u64,
    pub inputs: u64,
    pub state_hash: u64,
    pub users: u64,
    pub live_users: u64,
    pub groups: u64,
    /// Paths held at the end, on live users.
    pub paths: u64,
    pub end_ms: u64,
}

fn summarise(sim: &Sim, events: u64, inputs: u64) -> Summary {
    let st = sim.state();
    let live = st.users.iter().filter(|u| u.alive);
    Summary {
        events,
        inputs,
        state_hash: sim.state_hash(),
        users: st.users.len() as u64,
        live_users: live.clone().count() as u64,
        groups: st.groups.len() as u64,
        paths: live.map(|u| u.paths.len() as u64).sum(),
        end_ms: sim.now(),
    }
}

/// Receives the engine with pending events, and whether it is right after an input was applied
/// (where a log may checkpoint the state hash); it must take or clear the events.
pub type Sink<'a> = dyn FnMut(&mut Sim, bool) + 'a;

/// Runs the tenant workload of `n` users on a new engine. `sink` gets the engine after every
/// input, whenever about [`CHUNK`] events are pending between inputs, and at the end.
pub fn drive(cat: &Arc<Catalog>, n: u32, seed: u64, sink: &mut Sink) -> Summary {
    let mut sim = Sim::new(cat.clone(), config(seed));
    drive_sim(&mut sim, n, seed, sink)
}

/// [`drive`] on a given engine (new, made with [`config`]`(seed)`), which stays alive after.
pub fn drive_sim(sim: &mut Sim, n: u32, seed: u64, sink: &mut Sink) -> Summary {
    let cat = sim.catalog().clone();
    let (mut events, mut inputs_n) = (0u64, 0u64);
    // Engine work due before an input runs job by job, so that events are handed over in chunks.
    fn run_jobs_until(sim: &mut Sim, t: u64, events: &mut u64, sink: &mut Sink) {
        while sim.next_job_time().is_some_and(|at| at <= t) {
            sim.run_next_job();
            if sim.pending_events().len() >= CHUNK {
                *events += sim.pending_events().len() as u64;
                sink(sim, false);
            }
        }
    }
    inputs(&cat, n, seed, &mut |t, input| {
        inputs_n += 1;
        run_jobs_until(sim, t, &mut events, sink);
        let _ = sim.apply(t, input);
        events += sim.pending_events().len() as u64;
        sink(sim, true);
    });
    let limit = sim.now() + END_LIMIT_MS;
    run_jobs_until(sim, limit, &mut events, sink);
    sim.run_until_quiescent(limit);
    events += sim.pending_events().len() as u64;
    sink(sim, false);
    summarise(sim, events, inputs_n)
}

/// Runs the tenant workload, dropping events as they come (the engine's apply rate).
pub fn apply_only(cat: &Arc<Catalog>, n: u32, seed: u64) -> Summary {
    drive(cat, n, seed, &mut |sim, _| sim.clear_events())
}

// ---- logs ----------------------------------------------------------------------------------------

/// Events between state-hash checkpoints for a tenant of `n` users: `engine::log`'s default, or
/// 16 events per user when that is more. A state hash walks the whole tenant, so a fixed interval
/// would make hashing cost grow with the tenant for every event; this keeps it O(1) per event.
pub fn checkpoint_every(n: u32) -> u64 {
    engine::log::CHECKPOINT_EVERY.max(16 * n as u64)
}

/// Records the tenant workload of `n` users as a `.simlog` (checkpoints every `every` events).
pub fn record(cat: &Arc<Catalog>, n: u32, seed: u64, every: u64) -> (Summary, Vec<u8>) {
    let header = engine::log::Header {
        checkpoint_every: every,
        ..engine::log::Header::new(&format!("bench-{n}"), cat, &config(seed))
    };
    let mut w = engine::log::LogWriter::new(&header);
    let mut sim = Sim::new(cat.clone(), config(seed));
    let s = drive_sim(&mut sim, n, seed, &mut |sim, after_input| {
        w.observe(sim, sim.pending_events(), after_input);
        sim.clear_events();
    });
    (s, w.finish(sim.now(), sim.state_hash()))
}

/// Decodes every record of a log and nothing else (the codec floor); returns the events.
pub fn decode_only(log: &[u8]) -> Result<u64, String> {
    engine::log::decode_count(log).map_err(|e| e.to_string())
}

/// Replays a log (decode, apply, verify every outcome, checkpoint and the final hash); returns
/// (events replayed, checkpoints verified).
pub fn replay(log: &[u8]) -> Result<(u64, u64), String> {
    let r = engine::log::replay(log, engine::log::Stop::End).map_err(|e| e.to_string())?;
    if let Some(d) = r.divergence {
        return Err(format!("divergence at event {}: {}", d.index, d.note));
    }
    if !r.complete || r.expected_final_hash != Some(r.final_state_hash) {
        return Err("the replay did not reach the trailer's state hash".into());
    }
    Ok((r.events, r.checkpoints_verified))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_is_deterministic_and_replays() {
        let cat = catalog();
        let a = apply_only(&cat, 600, 7);
        let (b, log) = record(&cat, 600, 7, 1_000);
        assert_eq!(a, b);
        assert!(a.events > 10 * 600, "{a:?}");
        assert_eq!(decode_only(&log).unwrap(), a.events);
        let (events, checkpoints) = replay(&log).unwrap();
        assert_eq!(events, a.events);
        assert!(checkpoints > 2, "{checkpoints}");
    }
}
