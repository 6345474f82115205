//! The directory: users, their attributes and proxy addresses, and the proxy-address index the
//! uniqueness rule (R18) reads.

use super::Sim;
use crate::event::*;
use crate::model::*;
use crate::{GroupIdx, Loc, SkuIdx, UserIdx};
use smallvec::SmallVec;

/// Limits that keep a bad log or scenario from exhausting memory.
pub const MAX_USERS: usize = 50_000_000;
/// Distinct attribute names a tenant may use.
pub const MAX_ATTRIBUTES: usize = 4096;

impl Sim {
    pub(super) fn create_user(
        &mut self,
        name: &str,
        loc: Option<Loc>,
        proxies: &[String],
        attributes: &[(String, String)],
    ) -> Result<(), Rejection> {
        if name.is_empty() || name.len() > 256 {
            return Err(Rejection::new(CallError::InvalidValue));
        }
        if self.state.user(name).is_some() {
            return Err(Rejection::new(CallError::DuplicateName));
        }
        if self.state.users.len() >= MAX_USERS {
            return Err(Rejection::new(CallError::InvalidValue));
        }
        let mut attrs = Vec::new();
        for (k, v) in attributes {
            let ki = self.intern_attribute(k)?;
            let vi = self.state.intern_attribute_value(v);
            attrs.retain(|(a, _): &(u16, u32)| *a != ki);
            attrs.push((ki, vi));
        }
        attrs.sort();
        if let Some(last) = self.state.users.last()
            && &*last.name >= name
        {
            self.state.names_in_index_order = false;
        }
        let idx = self.state.users.len() as UserIdx;
        push_grow(
            &mut self.state.users,
            User {
                name: name.into(),
                usage_location: loc,
                alive: true,
                last_step_group: GroupIdx::MAX,
                last_step_ms: 0,
                last_step_skus: 0,
                proxy_addresses: Box::default(),
                primary_hash: crate::hash::hash_address_parts(&[
                    name,
                    "@",
                    &self.config.tenant.domain,
                ]),
                attributes: attrs.into_boxed_slice(),
                paths: Vec::new(),
                groups: SmallVec::new(),
            },
        );
        let users = &self.state.users;
        self.state
            .user_index
            .insert(name, idx, |i| &*users[i as usize].name);
        self.set_proxies(idx, proxies, false);
        self.emit(Outcome::UserCreated { user: idx });
        // A new user is evaluated by every dynamic group (R26).
        let dynamic: Vec<GroupIdx> = self.state.dynamic_groups.iter().copied().collect();
        for g in dynamic {
            self.schedule_dynamic(g, idx);
        }
        Ok(())
    }

    pub(super) fn intern_attribute(&mut self, k: &str) -> Result<u16, Rejection> {
        // Names are kept lower-cased: a known name is found without building a string.
        let known = self
            .state
            .attribute_names
            .iter()
            .position(|a| a.eq_ignore_ascii_case(k));
        if let Some(i) = known {
            return Ok(i as u16);
        }
        if self.state.attribute_names.len() >= MAX_ATTRIBUTES || k.len() > 256 {
            return Err(Rejection::new(CallError::InvalidValue));
        }
        self.state.attribute_names.push(k.to_ascii_lowercase());
        Ok((self.state.attribute_names.len() - 1) as u16)
    }

    /// Hash of the `i`-th proxy address of a user (normalised: lower case, no `smtp:`); a user
    /// without any has one, the primary `<name>@<domain>`. No string is built.
    pub(super) fn address_hash(&self, u: UserIdx, i: usize) -> u64 {
        let user = &self.state.users[u as usize];
        match user.proxy_addresses.get(i) {
            Some(a) => crate::hash::hash_address(a),
            None => user.primary_hash,
        }
    }

    /// Number of proxy addresses of a user (at least the primary).
    pub(super) fn address_count(&self, u: UserIdx) -> usize {
        self.state.users[u as usize].proxy_addresses.len().max(1)
    }

    pub(super) fn index_proxies(&mut self, u: UserIdx, add: bool) {
        for i in 0..self.address_count(u) {
            let h = self.address_hash(u, i);
            if add {
                if self.state.proxy_index.increment(h) == 2 {
                    self.state.shared_addresses.insert(h);
                }
            } else if self.state.proxy_index.decrement(h) == 1 {
                self.state.shared_addresses.remove(&h);
            }
        }
    }

    /// Replaces a user's proxy addresses (the user must not be in the index when `indexed` is
    /// false, i.e. while being created).
    pub(super) fn set_proxies(&mut self, u: UserIdx, addresses: &[String], indexed: bool) {
        if indexed {
            self.index_proxies(u, false);
        }
        let mut list: Vec<String> = addresses
            .iter()
            .map(|a| normalise_address(a))
            .filter(|a| !a.is_empty())
            .collect();
        list.sort();
        list.dedup();
        self.state.users[u as usize].proxy_addresses = list.into_boxed_slice();
        self.index_proxies(u, true);
    }

    pub(super) fn delete_user(&mut self, u: UserIdx) -> Result<(), Rejection> {
        self.user_mut(u)?;
        let lost: Vec<(UserIdx, u16)> = self
            .state
            .lost
            .range((u, 0)..=(u, u16::MAX))
            .copied()
            .collect();
        for k in lost {
            self.state.lost.remove(&k);
        }
        let paths = std::mem::take(&mut self.state.users[u as usize].paths);
        let mut skus: Vec<SkuIdx> = Vec::new();
        for p in &paths {
            if let Source::Group(g) = p.source {
                self.state.groups[g as usize].path_count -= 1;
            }
            if p.state.applied() && !skus.contains(&p.sku) {
                skus.push(p.sku);
            }
            self.emit(Outcome::PathRemoved {
                user: u,
                sku: p.sku,
                source: p.source,
            });
        }
        skus.sort();
        for s in skus {
            let sub = &mut self.state.subscriptions[s as usize];
            sub.consumed -= 1;
            let c = sub.consumed;
            self.emit(Outcome::Consumed {
                sku: s,
                consumed: c,
            });
        }
        let groups = std::mem::take(&mut self.state.users[u as usize].groups);
        for g in groups {
            self.state.groups[g as usize].members.remove(&u);
            self.emit(Outcome::Membership {
                group: g,
                member: Member::User(u),
                added: false,
            });
        }
        self.index_proxies(u, false);
        let user = &mut self.state.users[u as usize];
        user.alive = false;
        let users = &self.state.users;
        self.state
            .user_index
            .remove(&users[u as usize].name, |i| &*users[i as usize].name);
        self.emit(Outcome::UserDeleted { user: u });
        Ok(())
    }

    pub(super) fn set_attribute(
        &mut self,
        u: UserIdx,
        key: &str,
        value: &Option<String>,
    ) -> Result<(), Rejection> {
        self.user_mut(u)?;
        let ki = self.intern_attribute(key)?;
        let vi = value
            .as_deref()
            .map(|v| self.state.intern_attribute_value(v));
        let user = &mut self.state.users[u as usize];
        let mut attrs: Vec<(u16, u32)> = std::mem::take(&mut user.attributes).into_vec();
        attrs.retain(|(k, _)| *k != ki);
        if let Some(vi) = vi {
            attrs.push((ki, vi));
            attrs.sort();
        }
        user.attributes = attrs.into_boxed_slice();
        let key = key.to_ascii_lowercase();
        let affected: Vec<GroupIdx> = self
            .state
            .dynamic_groups
            .iter()
            .copied()
            .filter(|g| {
                self.state.groups[*g as usize]
                    .rule
                    .as_ref()
                    .is_some_and(|r| r.attributes.binary_search(&key).is_ok())
            })
            .collect();
        for g in affected {
            self.schedule_dynamic(g, u);
        }
        Ok(())
    }
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

/// R18: whether another live user holds one of this user's proxy addresses.
pub(super) fn proxy_conflict(st: &State, u: UserIdx) -> bool {
    // Most tenants have no shared address at all: then nobody has a conflict.
    let shared = &st.shared_addresses;
    let user = &st.users[u as usize];
    !shared.is_empty()
        && (0..user.proxy_addresses.len().max(1)).any(|i| {
            let h = match user.proxy_addresses.get(i) {
                Some(a) => crate::hash::hash_address(a),
                None => user.primary_hash,
            };
            shared.contains(&h)
        })
}
