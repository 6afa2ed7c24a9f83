//! Service jobs as workers and administrators use them: fetch and lock (long polling), the
//! answers (complete, fail, business error), incidents and their retry.
//!
//! A job is created by the transition that enters its `service` state, and every answer is a
//! command ([`Command::AnswerJob`]) whose commit checks the job is still open and held under
//! the lock the answer was decided on: so an answer is applied once, however often a worker
//! repeats it, and a worker whose lock passed to another gets a conflict.

use crate::Engine;
use crate::engine::{EngineError, PLATFORM_TENANT, Result};
use crate::ids::InstanceId;
use crate::machine::{Command, JobAnswer};
use crate::model::{Actor, Instance, Job, JobStatus};
use crate::store::JobClaim;
use chrono::Duration;
use uuid::Uuid;

/// The role a worker's token carries.
pub const WORKER_ROLE: &str = "worker";
/// The most jobs one fetch hands out.
pub const MAX_FETCH: i64 = 100;
/// The longest a fetch waits for work.
pub const MAX_WAIT: Duration = Duration::seconds(60);
/// The longest lock: a worker that needs longer should ask for less work at a time.
pub const MAX_LOCK: Duration = Duration::hours(24);
/// How often a waiting fetch looks again for jobs committed by other processes.
const POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// What a worker asks for.
#[derive(Debug, Clone)]
pub struct Fetch {
    pub topics: Vec<String>,
    pub max: i64,
    pub lock_for: Duration,
    pub wait: Duration,
    /// The worker's own name (one token may serve several processes); the token's user if
    /// none.
    pub worker: Option<String>,
}

/// Who holds a lock: the token's user, and the process's name if it gave one.
fn holder(actor: &Actor, worker: Option<&str>) -> String {
    match worker {
        Some(name) => format!("{}/{name}", actor.user),
        None => actor.user.clone(),
    }
}

/// Whether an actor may see a job: its tenant's, or any for the platform tenant.
fn sees(actor: &Actor, job: &Job) -> bool {
    job.tenant == actor.tenant || actor.tenant == PLATFORM_TENANT
}

impl Engine {
    /// Locks up to `max` jobs of the topics for the worker, waiting up to `wait` for some.
    pub async fn fetch_jobs(&self, actor: &Actor, fetch: &Fetch) -> Result<Vec<Job>> {
        if !actor.has_role(WORKER_ROLE) {
            return Err(EngineError::Forbidden(format!(
                "fetching jobs needs the `{WORKER_ROLE}` role"
            )));
        }
        if fetch.topics.is_empty() || fetch.topics.len() > crate::store::MAX_TOPICS {
            return Err(EngineError::Rejected(format!(
                "name 1 to {} topics",
                crate::store::MAX_TOPICS
            )));
        }
        if !(1..=MAX_FETCH).contains(&fetch.max) {
            return Err(EngineError::Rejected(format!("`max` is 1 to {MAX_FETCH}")));
        }
        if fetch.lock_for < Duration::seconds(1) || fetch.lock_for > MAX_LOCK {
            return Err(EngineError::Rejected(
                "`lock_for` is at least PT1S and at most P1D".into(),
            ));
        }
        if fetch.wait < Duration::zero() || fetch.wait > MAX_WAIT {
            return Err(EngineError::Rejected("`wait` is at most PT60S".into()));
        }
        let worker = holder(actor, fetch.worker.as_deref());
        let tenant = (actor.tenant != PLATFORM_TENANT).then_some(actor.tenant.as_str());
        let deadline =
            tokio::time::Instant::now() + fetch.wait.to_std().unwrap_or(std::time::Duration::ZERO);
        loop {
            // Registered before looking, so a job committed meanwhile still wakes this fetch.
            let ready = self.jobs_ready.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            let now = self.now();
            let claim = JobClaim {
                worker: &worker,
                topics: &fetch.topics,
                tenant,
                max: fetch.max,
                now,
                until: now + fetch.lock_for,
            };
            let jobs = self.store.claim_jobs(&claim).await?;
            if !jobs.is_empty() {
                for job in &jobs {
                    let waited = (now - job.available_at).num_milliseconds().max(0);
                    self.metrics.job_lateness.record(waited as u64);
                }
                return Ok(jobs);
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(jobs);
            }
            let _ = tokio::time::timeout(left.min(POLL), ready).await;
        }
    }

    /// Applies a worker's answer to a job it holds, or an administrator's retry of an
    /// incident; returns the instance as it is after.
    pub async fn answer_job(
        &self,
        actor: &Actor,
        id: Uuid,
        worker: Option<&str>,
        answer: JobAnswer,
    ) -> Result<Instance> {
        let retrying = matches!(answer, JobAnswer::RetryIncident);
        if retrying {
            if !actor.is_admin() {
                return Err(EngineError::Forbidden(
                    "retrying an incident needs the `admin` role".into(),
                ));
            }
        } else if !actor.has_role(WORKER_ROLE) {
            return Err(EngineError::Forbidden(format!(
                "answering a job needs the `{WORKER_ROLE}` role"
            )));
        }
        let me = holder(actor, worker);
        let incident = std::sync::atomic::AtomicBool::new(false);
        let done = self
            .decide_and_commit(actor, "the job", || async {
                let job = match self.store.job(id).await? {
                    Some(job) if sees(actor, &job) => job,
                    _ => return Err(EngineError::NotFound(format!("job {id}"))),
                };
                if !retrying {
                    if job.status != JobStatus::Open {
                        return Err(EngineError::Conflict(format!(
                            "the job is {}: it was answered already",
                            job.status.to_db()
                        )));
                    }
                    if job.locked_by.as_deref() != Some(me.as_str()) {
                        return Err(EngineError::Conflict(match job.locked_by {
                            Some(_) => "the job's lock passed to another worker".into(),
                            None => "the job is not locked by this worker: fetch it first".into(),
                        }));
                    }
                } else if job.status != JobStatus::Incident {
                    return Err(EngineError::Conflict("the job is not an incident".into()));
                }
                let instance =
                    self.store.instance(job.instance).await?.ok_or_else(|| {
                        EngineError::NotFound(format!("instance {}", job.instance))
                    })?;
                let tenant = instance.tenant.clone();
                let failing = matches!(answer, JobAnswer::Fail { .. });
                incident.store(
                    failing && job.attempt > job.retries,
                    std::sync::atomic::Ordering::Relaxed,
                );
                let command = Command::AnswerJob {
                    job,
                    answer: answer.clone(),
                };
                self.load_for(&tenant, instance, command).await
            })
            .await?;
        use std::sync::atomic::Ordering::Relaxed;
        match (&answer, incident.load(Relaxed)) {
            (JobAnswer::Fail { .. }, true) => {
                self.metrics.jobs_failed.fetch_add(1, Relaxed);
                self.metrics.incidents.fetch_add(1, Relaxed);
            }
            (JobAnswer::Fail { .. }, false) => {
                self.metrics.jobs_failed.fetch_add(1, Relaxed);
            }
            (JobAnswer::Complete { .. }, _) => {
                self.metrics.jobs_completed.fetch_add(1, Relaxed);
            }
            _ => {}
        }
        crate::decide::primary(done)
    }

    /// Incidents the actor may see (administrators and auditors of its tenant; every
    /// tenant's for the platform tenant).
    pub async fn incidents(&self, actor: &Actor) -> Result<Vec<Job>> {
        if !actor.may_audit() {
            return Err(EngineError::Forbidden(
                "incidents are for administrators and auditors".into(),
            ));
        }
        let tenant = (actor.tenant != PLATFORM_TENANT).then_some(actor.tenant.as_str());
        Ok(self.store.incidents(tenant).await?)
    }

    /// One job the actor may see (a worker's or administrator's of its tenant).
    pub async fn job(&self, actor: &Actor, id: Uuid) -> Result<Job> {
        match self.store.job(id).await? {
            Some(job) if sees(actor, &job) => Ok(job),
            _ => Err(EngineError::NotFound(format!("job {id}"))),
        }
    }

    /// The jobs of an instance the actor may see (for its case page).
    pub async fn jobs_of(&self, actor: &Actor, instance: InstanceId) -> Result<Vec<Job>> {
        let _ = self.instance(actor, instance).await?;
        Ok(self.store.jobs_of(instance).await?)
    }

    /// How many incidents wait for an administrator, over every tenant (for `/metrics`).
    pub async fn incident_count(&self) -> Result<i64> {
        Ok(self.store.incident_count().await?)
    }
}
