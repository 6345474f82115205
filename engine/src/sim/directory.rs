//! The directory: users (R31), their usage location, attributes and proxy addresses, and the
//! proxy-address index the uniqueness rule (R18) reads. Deleting a user ends here, after its
//! seats and groups are released.

use super::groups::Membership;
use super::{Sim, live_user};
use crate::event::*;
use crate::model::*;
use crate::names::HashCounts;
use crate::{GroupIdx, Loc, UserIdx};
use smallvec::SmallVec;
use std::collections::BTreeSet;

/// Limits that keep a bad log or scenario from exhausting memory.
pub const MAX_USERS: usize = 50_000_000;
/// Distinct attribute names a tenant may use.
pub const MAX_ATTRIBUTES: usize = 4096;

/// The proxy-address index (R18): who holds which address.
#[derive(Default)]
pub(super) struct Directory {
    /// Proxy address hash -> number of live users holding it.
    proxy_index: HashCounts,
    /// The addresses of `proxy_index` held by more than one user: few, so an R18 check looks
    /// here (cache-resident) and never walks the large index.
    shared: BTreeSet<u64>,
}

impl Directory {
    /// Creates a user (R31: without licences; the usage location may be missing).
    pub(super) fn create_user(
        &mut self,
        st: &mut State,
        domain: &str,
        name: &str,
        loc: Option<Loc>,
        proxies: &[String],
        attributes: &[(String, String)],
    ) -> Result<UserIdx, Rejection> {
        if name.is_empty() || name.len() > 256 {
            return Err(Rejection::new(CallError::InvalidValue));
        }
        if st.user(name).is_some() {
            return Err(Rejection::new(CallError::DuplicateName));
        }
        if st.users.len() >= MAX_USERS {
            return Err(Rejection::new(CallError::InvalidValue));
        }
        let mut attrs = Vec::new();
        for (k, v) in attributes {
            let ki = intern_attribute(st, k)?;
            let vi = st.intern_attribute_value(v);
            attrs.retain(|(a, _): &(u16, u32)| *a != ki);
            attrs.push((ki, vi));
        }
        attrs.sort();
        if let Some(last) = st.users.last()
            && &*last.name >= name
        {
            st.names_in_index_order = false;
        }
        let idx = st.users.len() as UserIdx;
        push_grow(
            &mut st.users,
            User {
                name: name.into(),
                usage_location: loc,
                alive: true,
                last_step_group: GroupIdx::MAX,
                last_step_ms: 0,
                last_step_skus: 0,
                proxy_addresses: Box::default(),
                primary_hash: crate::hash::hash_address_parts(&[name, "@", domain]),
                attributes: attrs.into_boxed_slice(),
                paths: Vec::new(),
                groups: SmallVec::new(),
            },
        );
        let users = &st.users;
        st.user_index
            .insert(name, idx, |i| &*users[i as usize].name);
        self.set_proxies(st, idx, proxies, false);
        Ok(idx)
    }

    pub(super) fn set_usage_location(
        st: &mut State,
        u: UserIdx,
        loc: Option<Loc>,
    ) -> Result<(), Rejection> {
        live_user(st, u)?.usage_location = loc;
        Ok(())
    }

    pub(super) fn set_proxy_addresses(
        &mut self,
        st: &mut State,
        u: UserIdx,
        addresses: &[String],
    ) -> Result<(), Rejection> {
        live_user(st, u)?;
        self.set_proxies(st, u, addresses, true);
        Ok(())
    }

    /// Sets or clears one attribute of a user (the caller schedules the dynamic groups whose
    /// rule reads it, R26).
    pub(super) fn set_attribute(
        st: &mut State,
        u: UserIdx,
        key: &str,
        value: &Option<String>,
    ) -> Result<(), Rejection> {
        live_user(st, u)?;
        let ki = intern_attribute(st, key)?;
        let vi = value.as_deref().map(|v| st.intern_attribute_value(v));
        let user = &mut st.users[u as usize];
        let mut attrs: Vec<(u16, u32)> = std::mem::take(&mut user.attributes).into_vec();
        attrs.retain(|(k, _)| *k != ki);
        if let Some(vi) = vi {
            attrs.push((ki, vi));
            attrs.sort();
        }
        user.attributes = attrs.into_boxed_slice();
        Ok(())
    }

    /// The last part of deleting a user: its addresses leave the index, its name the name
    /// index; the record stays (indices are dense), marked dead.
    pub(super) fn remove_user(&mut self, st: &mut State, u: UserIdx) {
        self.index_proxies(st, u, false);
        let user = &mut st.users[u as usize];
        user.alive = false;
        let users = &st.users;
        st.user_index
            .remove(&users[u as usize].name, |i| &*users[i as usize].name);
    }

    /// R18: whether another live user holds one of this user's proxy addresses.
    pub(super) fn proxy_conflict(&self, st: &State, u: UserIdx) -> bool {
        // Most tenants have no shared address at all: then nobody has a conflict.
        let user = &st.users[u as usize];
        !self.shared.is_empty()
            && (0..address_count(user)).any(|i| self.shared.contains(&address_hash(user, i)))
    }

    fn index_proxies(&mut self, st: &State, u: UserIdx, add: bool) {
        let user = &st.users[u as usize];
        for i in 0..address_count(user) {
            let h = address_hash(user, i);
            if add {
                if self.proxy_index.increment(h) == 2 {
                    self.shared.insert(h);
                }
            } else if self.proxy_index.decrement(h) == 1 {
                self.shared.remove(&h);
            }
        }
    }

    /// Replaces a user's proxy addresses (the user must not be in the index when `indexed` is
    /// false, i.e. while being created).
    fn set_proxies(&mut self, st: &mut State, u: UserIdx, addresses: &[String], indexed: bool) {
        if indexed {
            self.index_proxies(st, u, false);
        }
        let mut list: Vec<String> = addresses
            .iter()
            .map(|a| normalise_address(a))
            .filter(|a| !a.is_empty())
            .collect();
        list.sort();
        list.dedup();
        st.users[u as usize].proxy_addresses = list.into_boxed_slice();
        self.index_proxies(st, u, true);
    }
}

/// The index of an attribute name, interning it (names are kept lower-cased).
fn intern_attribute(st: &mut State, k: &str) -> Result<u16, Rejection> {
    // A known name is found without building a string.
    let known = st
        .attribute_names
        .iter()
        .position(|a| a.eq_ignore_ascii_case(k));
    if let Some(i) = known {
        return Ok(i as u16);
    }
    if st.attribute_names.len() >= MAX_ATTRIBUTES || k.len() > 256 {
        return Err(Rejection::new(CallError::InvalidValue));
    }
    st.attribute_names.push(k.to_ascii_lowercase());
    Ok((st.attribute_names.len() - 1) as u16)
}

/// Hash of the `i`-th proxy address of a user (normalised: lower case, no `smtp:`); a user
/// without any has one, the primary `<name>@<domain>`. No string is built.
fn address_hash(user: &User, i: usize) -> u64 {
    match user.proxy_addresses.get(i) {
        Some(a) => crate::hash::hash_address(a),
        None => user.primary_hash,
    }
}

/// Number of proxy addresses of a user (at least the primary).
fn address_count(user: &User) -> usize {
    user.proxy_addresses.len().max(1)
}

/// Lower-cases an address and strips a `smtp:` prefix (any case).
pub fn normalise_address(a: &str) -> String {
    let a = a.trim();
    let a = if a.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("smtp:")) {
        &a[5..]
    } else {
        a
    };
    a.to_ascii_lowercase()
}

/// Coordination of user inputs across the parts.
impl Sim {
    pub(super) fn create_user(
        &mut self,
        name: &str,
        loc: Option<Loc>,
        proxies: &[String],
        attributes: &[(String, String)],
    ) -> Result<(), Rejection> {
        let st = &mut self.state;
        let domain = &self.config.tenant.domain;
        let u = self
            .directory
            .create_user(st, domain, name, loc, proxies, attributes)?;
        self.core.emit(Outcome::UserCreated { user: u });
        // A new user is evaluated by every dynamic group (R26).
        let env = &self.config.environment;
        self.membership
            .schedule_new_user(&mut self.state, &mut self.core, env, u);
        Ok(())
    }

    /// R20: deleting a user frees its seats, removes it from every group, then from the
    /// directory.
    pub(super) fn delete_user(&mut self, u: UserIdx) -> Result<(), Rejection> {
        let st = &mut self.state;
        live_user(st, u)?;
        self.seats.release_user(st, &mut self.core, u);
        Membership::leave_all(st, &mut self.core, u);
        self.directory.remove_user(st, u);
        self.core.emit(Outcome::UserDeleted { user: u });
        Ok(())
    }

    pub(super) fn set_attribute(
        &mut self,
        u: UserIdx,
        key: &str,
        value: &Option<String>,
    ) -> Result<(), Rejection> {
        Directory::set_attribute(&mut self.state, u, key, value)?;
        // R26: the dynamic groups whose rule reads the attribute evaluate the user again.
        let env = &self.config.environment;
        self.membership
            .schedule_attribute_change(&mut self.state, &mut self.core, env, key, u);
        Ok(())
    }
}
