//! The durable timer scheduler.
//!
//! Timers are rows. A worker leases a batch of due ones (on PostgreSQL with `FOR UPDATE SKIP
//! LOCKED`, so workers in other processes take other rows), decides each through the normal
//! transition function, and commits the whole batch in one transaction, the same one that
//! deletes the timers. A timer fires exactly once: its deletion is checked, so a second worker
//! that decided it too (after a lease expired) fails and rolls back. A worker that dies holding
//! a lease only delays its timers until the lease expires: late, never lost.

use crate::decide::Loaded;
use crate::engine::{Engine, EngineError, Result};
use crate::machine::{Catalog, Command, Transition};
use crate::model::{Actor, Timer};
use crate::store::StoreError;
use std::collections::HashSet;
use std::time::Duration;

/// How long a claimed batch belongs to its worker before others may take it over.
pub const LEASE: chrono::Duration = chrono::Duration::seconds(15);

impl Engine {
    /// Fires up to `limit` due timers as one batch. Returns how many fired.
    pub async fn fire_due_timers(&self, limit: i64) -> Result<usize> {
        let now = self.now();
        let lease_until = now + LEASE;
        let claimed = self
            .store
            .claim_timers(now, limit, &self.worker, lease_until)
            .await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let mut loaded: std::collections::HashMap<_, _> = self
            .store
            .leased_instances(&self.worker, lease_until)
            .await?
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
        let mut batch: Vec<(Timer, Transition)> = Vec::new();
        let mut touched = HashSet::new();
        let mut later = Vec::new();
        for timer in claimed {
            let instance = loaded.remove(&timer.instance);
            if instance.is_none() {
                later.push(timer);
                continue;
            }
            let transition = match self.decide_timer(&timer, instance).await {
                Ok(t) => t,
                // What was read changed meanwhile: decide again, alone, after the batch.
                Err(EngineError::Store(StoreError::Conflict(_))) => {
                    later.push(timer);
                    continue;
                }
                Err(err) => {
                    // Left leased: retried when the lease expires.
                    tracing::warn!(timer = %timer.id, error = %err, "timer could not fire");
                    continue;
                }
            };
            // Two timers of one instance in a batch would both be decided on the same version:
            // the second is decided again after the batch commits.
            let ids: Vec<_> = transition.changes.iter().map(|c| c.instance.id).collect();
            if ids.iter().any(|id| touched.contains(id)) {
                later.push(timer);
                continue;
            }
            touched.extend(ids);
            batch.push((timer, transition));
        }
        let transitions: Vec<Transition> = batch.iter().map(|(_, t)| t.clone()).collect();
        let committed = self.store.commit_all(&transitions).await;
        if committed.is_ok() {
            self.wake_workers(&transitions);
        }
        let mut fired = match self.count(committed, transitions.len() as u64) {
            Ok(()) => {
                for (timer, _) in &batch {
                    self.record_fired(timer);
                }
                transitions.len()
            }
            Err(StoreError::Conflict(_)) => {
                // Someone changed one of the instances meanwhile: fire one by one, deciding again.
                later.extend(batch.into_iter().map(|(timer, _)| timer));
                0
            }
            Err(err) => return Err(err.into()),
        };
        for timer in later {
            match self.fire_one(&timer).await {
                Ok(()) => {
                    self.record_fired(&timer);
                    fired += 1;
                }
                Err(EngineError::Store(StoreError::Conflict(_))) => {}
                Err(err) => tracing::warn!(timer = %timer.id, error = %err, "timer could not fire"),
            }
        }
        Ok(fired)
    }

    /// Fires one timer in its own transaction, deciding again when the instance changes
    /// meanwhile; a timer another worker fired first is a conflict, not retried.
    async fn fire_one(&self, timer: &Timer) -> Result<()> {
        let actor = Actor::system(&timer.tenant);
        self.decide_and_commit(&actor, "the instance", || async {
            let instance = self.store.instance(timer.instance).await?;
            self.load_timer(timer, instance).await
        })
        .await?;
        Ok(())
    }

    fn record_fired(&self, timer: &Timer) {
        let late = (self.now() - timer.fire_at).num_milliseconds().max(0);
        self.metrics
            .timers_fired
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.metrics
            .timer_lateness
            .record(u64::try_from(late).unwrap_or(0));
    }

    /// Decides what a timer does, without committing.
    async fn decide_timer(
        &self,
        timer: &Timer,
        instance: Option<crate::model::Instance>,
    ) -> Result<Transition> {
        let loaded = self.load_timer(timer, instance).await?;
        self.decide(&Actor::system(&timer.tenant), loaded)
    }

    /// What firing a timer reads (its instance may be gone: the machine then drops the timer).
    async fn load_timer(
        &self,
        timer: &Timer,
        instance: Option<crate::model::Instance>,
    ) -> Result<Loaded> {
        let command = Command::FireTimer {
            timer: timer.clone(),
        };
        match instance {
            Some(instance) => self.load_for(&timer.tenant, instance, command).await,
            None => Ok(Loaded {
                context: Default::default(),
                instance: None,
                ancestors: vec![],
                command,
            }),
        }
    }

    /// Runs the scheduler until the task is dropped: fires due timers in batches, sleeping
    /// until the next one is due (at most `idle`, so timers set by other processes are seen).
    pub async fn run_scheduler(&self, batch: i64, idle: Duration) {
        loop {
            if let Err(err) = self.fire_due_schedules().await {
                tracing::warn!(error = %err, "schedule round failed");
            }
            match self.fire_due_timers(batch).await {
                Ok(n) if n as i64 >= batch => continue,
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "timer round failed"),
            }
            let wait = match self.store.next_timer_at().await {
                Ok(Some(at)) => (at - self.now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(idle),
                _ => idle,
            };
            tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
        }
    }
}

impl Engine {
    /// Fires the workflow schedules that are due, each in the tenant it runs in, with the
    /// exact version recorded in its row (nothing is resolved from memory, so a restarted
    /// process fires what the one before it scheduled). Each occurrence fires once: the
    /// transaction that acts on it also moves the schedule to its next occurrence, checked
    /// against the one being fired. Missed occurrences (the server was down) collapse into one
    /// late firing. An occurrence that cannot fire is logged once and skipped, never retried
    /// every second.
    pub async fn fire_due_schedules(&self) -> Result<usize> {
        let due = self.store.due_schedules(self.now(), 100).await?;
        let mut fired = 0;
        for row in due {
            match self.fire_schedule(&row).await {
                Ok(()) => fired += 1,
                Err(EngineError::Store(StoreError::Conflict(_))) => {}
                // The database failed: the occurrence is still due, and fires late, not never.
                Err(EngineError::Store(err)) => {
                    tracing::warn!(schedule = %row.name, workflow = %row.definition, tenant = %row.tenant, error = %err, "schedule could not fire: retried")
                }
                // The occurrence itself cannot fire (a start the workflow refuses, a schedule
                // no longer in it): retrying every round would only repeat the warning.
                Err(err) => {
                    tracing::warn!(schedule = %row.name, workflow = %row.definition, tenant = %row.tenant, error = %err, "schedule could not fire: occurrence skipped");
                    let skip = Transition {
                        changes: vec![],
                        effects: vec![self.advance(&row, None)],
                    };
                    match self.commit(skip).await {
                        Ok(_) | Err(StoreError::Conflict(_)) => {}
                        Err(err) => return Err(err.into()),
                    }
                }
            }
        }
        Ok(fired)
    }

    /// Moves a schedule row past the occurrence being fired (for good when its schedule is no
    /// longer in the workflow).
    fn advance(
        &self,
        row: &crate::store::ScheduleRow,
        schedule: Option<&crate::definition::Schedule>,
    ) -> crate::machine::Effect {
        let next = match schedule {
            Some(s) => s.next_after(self.now()),
            None => self
                .definitions
                .get(&row.definition, row.version)
                .and_then(|d| {
                    d.schedules
                        .iter()
                        .find(|s| s.name == row.name)
                        .and_then(|s| s.next_after(self.now()))
                }),
        };
        crate::machine::Effect::AdvanceSchedule {
            definition: row.definition.clone(),
            name: row.name.clone(),
            tenant: row.tenant.clone(),
            from: row.next_at,
            to: next.unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC),
        }
    }

    async fn fire_schedule(&self, row: &crate::store::ScheduleRow) -> Result<()> {
        let definition = self.definition(&row.definition, row.version).await?;
        let Some(schedule) = definition.schedules.iter().find(|s| s.name == row.name) else {
            return Err(EngineError::Rejected(format!(
                "schedule `{}` is no longer in the workflow",
                row.name
            )));
        };
        let advance = self.advance(row, Some(schedule));
        let actor = Actor::system(&row.tenant);
        match &schedule.kind {
            crate::definition::ScheduleKind::Start { variables } => {
                let pins = self.pins_for(&definition, &row.tenant).await?;
                let context = self.context(&definition, &row.tenant, &pins).await?;
                let command = Command::Start {
                    id: uuid::Uuid::now_v7().into(),
                    definition: row.definition.clone(),
                    version: row.version,
                    variables: variables.clone(),
                    on_behalf_of: None,
                    relation: None,
                    pins,
                };
                let loaded = Loaded {
                    context,
                    instance: None,
                    ancestors: vec![],
                    command,
                };
                let mut transition = self.decide(&actor, loaded)?;
                transition.effects.insert(0, advance);
                self.commit(transition).await?;
                Ok(())
            }
            crate::definition::ScheduleKind::Action { state, action } => {
                // Completing is idempotent (a closed task is no longer found), so acting first
                // and advancing last makes a crash in between harmless: the occurrence re-fires.
                loop {
                    let tasks = self
                        .store
                        .open_tasks_in_state(&row.tenant, &row.definition, state, 100)
                        .await?;
                    let mut progressed = false;
                    for task in &tasks {
                        match self
                            .complete(&actor, task.id, action, serde_json::json!({}))
                            .await
                        {
                            Ok(_) => progressed = true,
                            Err(EngineError::Conflict(_)) => {}
                            Err(err) => {
                                tracing::warn!(task = %task.id, error = %err, "scheduled action failed")
                            }
                        }
                    }
                    if tasks.len() < 100 || !progressed {
                        break;
                    }
                }
                let transition = Transition {
                    changes: vec![],
                    effects: vec![advance],
                };
                self.commit(transition).await?;
                Ok(())
            }
        }
    }
}
