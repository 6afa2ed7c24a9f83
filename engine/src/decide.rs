//! The one path every command takes: load what it reads, decide (the pure transition), commit.
//!
//! Optimistic concurrency means a decision can lose a race: another process changed an
//! instance, took the register number or moved the pool's line first (a conflict at commit),
//! or the data moved while it was being read (a stale read inside the transition). Either way
//! the caller's request may still be possible, so the whole decision is made again on freshly
//! loaded data, with a growing, jittered backoff. The caller sees a conflict only when the
//! request itself became impossible (the task was completed by someone else: the fresh load
//! says so), when the winner already did the work ([`Conflict::already_done`]), or after
//! [`RETRIES`] losses in a row.

use crate::engine::{Engine, EngineError, RETRIES, Result, backoff};
use crate::machine::{self, Command, Transition};
use crate::model::{Actor, Instance};
use crate::store::{Conflict, StoreError};
use uuid::Uuid;

/// What one decision reads, loaded afresh for each attempt.
pub(crate) struct Loaded {
    pub context: machine::Context,
    pub instance: Option<Instance>,
    pub ancestors: Vec<Instance>,
    pub command: Command,
}

/// The conflict a failed attempt lost, when it lost a race (rather than failed).
fn lost_race(err: &EngineError) -> Option<Conflict> {
    match err {
        EngineError::Store(StoreError::Conflict(conflict)) => Some(*conflict),
        _ => None,
    }
}

impl Engine {
    /// Runs the pure transition on what was loaded, now, with a fresh seed for its ids.
    pub(crate) fn decide(&self, actor: &Actor, loaded: Loaded) -> Result<Transition> {
        let Loaded {
            context,
            instance,
            ancestors,
            command,
        } = loaded;
        Ok(machine::transition(
            &self.definitions,
            machine::Input {
                context,
                instance,
                ancestors,
                command,
                actor,
                now: self.now(),
                seed: Uuid::new_v4(),
            },
        )?)
    }

    /// Loads, decides and commits, deciding again after a lost race (see the module's doc).
    /// `what` names what kept changing, for the conflict a caller sees after the last retry.
    ///
    /// `load` is a plain closure returning a future (not an async closure) so that the
    /// future stays `Send` for the server's tasks; it captures references only.
    pub(crate) async fn decide_and_commit<F, Fut>(
        &self,
        actor: &Actor,
        what: &str,
        mut load: F,
    ) -> Result<Transition>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Loaded>>,
    {
        for attempt in 0..RETRIES {
            let outcome = async {
                let loaded = load().await?;
                let completing = matches!(loaded.command, Command::Complete { .. });
                let transition = self.decide(actor, loaded)?;
                let transition = self.commit(transition).await?;
                if completing {
                    self.metrics
                        .completions
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Ok(transition)
            }
            .await;
            match outcome {
                Err(err) => match lost_race(&err) {
                    Some(conflict) if !conflict.already_done() => backoff(attempt).await,
                    _ => return Err(err),
                },
                done => return done,
            }
        }
        Err(EngineError::Conflict(format!(
            "{what} kept changing meanwhile: try again"
        )))
    }

    /// What a command addressed to `instance` reads: its definition's tenant context
    /// (calendar, registers and pools of `tenant`), its ancestors, and for a completion who
    /// completed the earlier states (only when the task declares `not_by`) and the files its
    /// data names.
    pub(crate) async fn load_for(
        &self,
        tenant: &str,
        instance: Instance,
        command: Command,
    ) -> Result<Loaded> {
        let definition = self
            .definition(&instance.definition, instance.definition_version)
            .await?;
        let instance = self.prepare(instance).await?;
        let ancestors = self.ancestors(&instance).await?;
        let mut context = self.context(&definition, tenant, &instance.pins).await?;
        if let Command::Complete { task, action, data } = &command {
            if let Some(crate::definition::Kind::Task(spec)) =
                definition.state(&task.state).map(|s| &s.kind)
                && !spec.not_by.is_empty()
            {
                context.completers = self.store.completers(instance.id).await?;
            }
            context.files = self.files_named(&definition, task, action, data).await?;
            if definition.checks_rotation() {
                let authority = crate::machine::rotation_authority(&instance);
                context.rotation = self.store.rotation(&authority).await?;
                context.rotation_read = true;
            }
        }
        Ok(Loaded {
            context,
            instance: Some(instance),
            ancestors,
            command,
        })
    }
}

/// The instance a committed transition was addressed to.
pub(crate) fn primary(transition: Transition) -> Result<Instance> {
    transition
        .changes
        .into_iter()
        .next()
        .map(|c| c.instance)
        .ok_or_else(|| EngineError::Rejected("nothing changed".into()))
}
