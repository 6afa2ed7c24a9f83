//! Shared pools: limited units (the seats of a course edition) that instances of one tenant
//! take first come first served, with a waiting line whose head gets the next unit released.
//!
//! A pool's counters and line are rows; every change here becomes an effect the store applies
//! only from the values this transition saw, so two transitions racing for the last seat, or
//! two withdrawals promoting the same head of the line, cannot both succeed.
//!
//! What an instance holds or waits for is kept in its variables, `_pools` and `_waiting`
//! (pool name to key), where templates and auditors can see it.

use super::enter::{assign, enter, scope};
use super::{Effect, MachineError, Working};
use crate::definition::{Goto, Kind};
use crate::expr::Expr;
use crate::history::note::{self, TimerSet, WaitDeadline};
use crate::history::{EventKind, Note, data};
use crate::ids::InstanceId;
use crate::model::{Timer, TimerKind};
use serde_json::{Map, Value as Json, json};
use std::collections::{HashMap, VecDeque};

/// The pools of the command's tenant, by (pool, key), as loaded.
pub type Pools = HashMap<(String, String), PoolState>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolState {
    pub capacity: i64,
    pub used: i64,
    /// The place in line the next waiter gets.
    pub next_seq: i64,
    /// The line, head first: (place, instance).
    pub waiting: VecDeque<(i64, InstanceId)>,
    /// Whether the row exists yet.
    pub stored: bool,
}

/// A change of a pool's counters, checked against the values it was made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolChange {
    pub tenant: String,
    pub pool: String,
    pub key: String,
    pub capacity: i64,
    /// `(used, next_seq)` before; `None` when the pool is used for the first time.
    pub from: Option<(i64, i64)>,
    pub to: (i64, i64),
}

/// The note's name for a unit of `pool` under `key`.
fn unit(pool: &str, key: &str) -> note::PoolUnit {
    note::PoolUnit {
        pool: pool.to_string(),
        key: key.to_string(),
    }
}

const HELD: &str = "_pools";
const WAITING: &str = "_waiting";

fn mark(
    work: &mut Working<'_>,
    id: InstanceId,
    slot: &str,
    pool: &str,
    key: Option<&str>,
) -> Result<(), MachineError> {
    let vars = &mut work.get_mut(id)?.variables;
    let entry = vars
        .entry(slot.to_string())
        .or_insert_with(|| Json::Object(Map::new()));
    if let Json::Object(map) = entry {
        match key {
            Some(key) => map.insert(pool.to_string(), json!(key)),
            None => map.remove(pool),
        };
    }
    Ok(())
}

fn marked(
    work: &Working<'_>,
    id: InstanceId,
    slot: &str,
) -> Result<Vec<(String, String)>, MachineError> {
    Ok(match work.get(id)?.variables.get(slot) {
        Some(Json::Object(map)) => map
            .iter()
            .filter_map(|(p, k)| Some((p.clone(), k.as_str()?.to_string())))
            .collect(),
        _ => Vec::new(),
    })
}

/// Applies `f` to a pool and records the change as an effect.
fn update(
    work: &mut Working<'_>,
    tenant: &str,
    pool: &str,
    key: &str,
    f: impl FnOnce(&mut PoolState),
) -> Result<(), MachineError> {
    let state = work
        .pools
        .get_mut(&(pool.to_string(), key.to_string()))
        .ok_or_else(|| MachineError::Inconsistent(format!("pool {pool}/{key} was not loaded")))?;
    let from = state.stored.then_some((state.used, state.next_seq));
    f(state);
    state.stored = true;
    let change = PoolChange {
        tenant: tenant.to_string(),
        pool: pool.to_string(),
        key: key.to_string(),
        capacity: state.capacity,
        from,
        to: (state.used, state.next_seq),
    };
    work.push(Effect::AdvancePool(change));
    Ok(())
}

/// Entering an acquire state: take a unit now, or join the line. Returns the next state when
/// a unit was taken.
pub fn acquire(
    work: &mut Working<'_>,
    id: InstanceId,
    pool: &str,
    key: &Expr,
    timeout: Option<&crate::calendar::DurationSpec>,
    on_granted: &Goto,
) -> Result<Option<String>, MachineError> {
    let definition = work.definition_of(id)?;
    let (key, capacity, tenant) = {
        let instance = work.get(id)?;
        let scope = scope(instance, None, &definition, work);
        let key = match key.eval(&scope)? {
            Json::String(s) => s,
            Json::Number(n) => n.to_string(),
            other => {
                return Err(MachineError::Inconsistent(format!(
                    "a pool key must be a string or a number, got {other}"
                )));
            }
        };
        let capacity = definition
            .pools
            .get(pool)
            .ok_or_else(|| MachineError::Inconsistent(format!("unknown pool `{pool}`")))?
            .eval(&scope)?
            .as_i64()
            .ok_or_else(|| {
                MachineError::Inconsistent(format!(
                    "the capacity of pool `{pool}` must be a whole number"
                ))
            })?;
        (key, capacity, instance.tenant.clone())
    };
    let state = work
        .pools
        .entry((pool.to_string(), key.clone()))
        .or_insert_with(|| PoolState {
            capacity,
            ..PoolState::default()
        });
    if state.used < state.capacity && state.waiting.is_empty() {
        update(work, &tenant, pool, &key, |s| s.used += 1)?;
        mark(work, id, HELD, pool, Some(&key))?;
        work.note(id, Note::Granted(unit(pool, &key)))?;
        assign(work, id, &on_granted.set, None)?;
        return Ok(Some(on_granted.to.clone()));
    }
    let seq = state.next_seq;
    let position = state.waiting.len() + 1;
    update(work, &tenant, pool, &key, |s| {
        s.next_seq += 1;
        s.waiting.push_back((seq, id));
    })?;
    let enqueue = Effect::Enqueue {
        tenant: tenant.to_string(),
        pool: pool.to_string(),
        key: key.clone(),
        seq,
        instance: id,
    };
    work.effect(
        id,
        enqueue,
        Note::Waitlisted(note::Waitlisted {
            pool: pool.to_string(),
            key: key.clone(),
            position,
        }),
    )?;
    mark(work, id, WAITING, pool, Some(&key))?;
    if let Some(timeout) = timeout {
        let deadline = work.calendar.deadline(work.now, timeout);
        let state_name = work.get(id)?.state.clone();
        let timer = Timer {
            id: work.new_id(),
            instance: id,
            tenant,
            state: state_name,
            kind: TimerKind::WaitTimeout,
            fire_at: deadline.at,
        };
        work.effect(
            id,
            Effect::SetTimer(timer),
            Note::TimerSet(TimerSet::WaitTimeout {
                deadline: WaitDeadline::Counted(deadline),
            }),
        )?;
    }
    Ok(None)
}

/// Gives back the units the instance holds in `pools`; the head of each line gets them.
pub fn release(
    work: &mut Working<'_>,
    id: InstanceId,
    pools: &[String],
) -> Result<(), MachineError> {
    let tenant = work.get(id)?.tenant.clone();
    for (pool, key) in marked(work, id, HELD)? {
        if !pools.contains(&pool) {
            continue;
        }
        update(work, &tenant, &pool, &key, |s| s.used -= 1)?;
        mark(work, id, HELD, &pool, None)?;
        work.note(id, Note::Released(unit(&pool, &key)))?;
        promote(work, &tenant, &pool, &key)?;
    }
    Ok(())
}

/// Gives every free unit of a pool to the head of its line, moving those instances on.
fn promote(
    work: &mut Working<'_>,
    tenant: &str,
    pool: &str,
    key: &str,
) -> Result<(), MachineError> {
    loop {
        let head = match work.pools.get(&(pool.to_string(), key.to_string())) {
            Some(s) if s.used < s.capacity => s.waiting.front().copied(),
            _ => None,
        };
        let Some((_, waiter)) = head else {
            return Ok(());
        };
        if !work.is_loaded(waiter) {
            return Err(MachineError::Stale(format!(
                "the head of the line of {pool}/{key} was not loaded"
            )));
        }
        update(work, tenant, pool, key, |s| {
            s.waiting.pop_front();
            s.used += 1;
        })?;
        let granted = data::PoolGranted {
            pool: pool.to_string(),
            key: key.to_string(),
        };
        work.event(waiter, EventKind::PoolGranted)?
            .set_data(&granted);
        work.push(Effect::Dequeue {
            tenant: tenant.to_string(),
            pool: pool.to_string(),
            key: key.to_string(),
            instance: waiter,
        });
        work.push(Effect::ClearTimers { instance: waiter });
        mark(work, waiter, WAITING, pool, None)?;
        mark(work, waiter, HELD, pool, Some(key))?;
        let definition = work.definition_of(waiter)?;
        let state = work.get(waiter)?.state.clone();
        let Some(Kind::Acquire { on_granted, .. }) = definition.state(&state).map(|s| &s.kind)
        else {
            return Err(MachineError::Stale(format!(
                "instance {waiter} is no longer waiting for {pool}"
            )));
        };
        assign(work, waiter, &on_granted.set, None)?;
        enter(work, waiter, &on_granted.to)?;
    }
}

/// Takes the instance out of every line it waits in (its wait timed out, or it was cancelled).
pub fn leave_lines(work: &mut Working<'_>, id: InstanceId) -> Result<(), MachineError> {
    let tenant = work.get(id)?.tenant.clone();
    for (pool, key) in marked(work, id, WAITING)? {
        if let Some(state) = work.pools.get_mut(&(pool.clone(), key.clone())) {
            state.waiting.retain(|(_, w)| *w != id);
        }
        work.push(Effect::Dequeue {
            tenant: tenant.to_string(),
            pool: pool.clone(),
            key: key.clone(),
            instance: id,
        });
        mark(work, id, WAITING, &pool, None)?;
        work.note(id, Note::LeftLine(unit(&pool, &key)))?;
    }
    Ok(())
}

/// Everything the instance holds, for a cancellation.
pub fn held(work: &Working<'_>, id: InstanceId) -> Result<Vec<String>, MachineError> {
    Ok(marked(work, id, HELD)?
        .into_iter()
        .map(|(pool, _)| pool)
        .collect())
}
