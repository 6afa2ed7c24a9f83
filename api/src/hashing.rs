//! Password hashing for the server, under a fixed bound.
//!
//! One Argon2id hash takes 19 MiB and tens of milliseconds of one core. Run on tokio's
//! blocking pool (up to 512 threads), 256 concurrent sign-in attempts took 7.4 GB that the
//! allocator never gave back. Here a few dedicated threads (one per core, at most
//! [`MAX_WORKERS`]) do all the hashing, so at most that many hashes hold memory at once, and
//! each thread reuses its own working memory (`users::with_blocks`: allocating it per hash
//! left ~20 copies resident even with two threads). A short queue in front of them absorbs a
//! burst of sign-ins at nine o'clock; beyond it an attempt is answered at once with 429 and
//! `Retry-After` rather than queued for seconds.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// More workers than this would only add memory: sign-ins are a small part of the load.
pub const MAX_WORKERS: usize = 4;
/// Waiting hashes per worker: at about 30 ms a hash, a full queue clears in half a second.
pub const QUEUE_PER_WORKER: usize = 16;

type Job = Box<dyn FnOnce() + Send>;

/// The hashing workers and the admission to them.
pub struct HashPool {
    /// One permit per hash running or waiting: `workers + queue`.
    admission: Arc<Semaphore>,
    jobs: Sender<Job>,
}

/// A place in the pool (running or queued), taken before the work is charged anywhere.
pub struct Admission {
    _permit: OwnedSemaphorePermit,
}

impl HashPool {
    /// Starts one worker per core (at least 1, at most [`MAX_WORKERS`]); the first computes
    /// the hash that unknown user names are checked against, so the first such sign-in takes
    /// no longer than any other.
    pub fn start() -> Self {
        let workers = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, MAX_WORKERS);
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..workers {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("procedo-hash-{n}"))
                .spawn(move || work(&receiver));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "a password hashing thread could not start");
            }
        }
        let pool = Self {
            admission: Arc::new(Semaphore::new(workers * (1 + QUEUE_PER_WORKER))),
            jobs: sender,
        };
        tracing::debug!(
            workers,
            queue = workers * QUEUE_PER_WORKER,
            "password hashing threads started"
        );
        pool.submit(Box::new(|| {
            std::sync::LazyLock::force(&crate::users::DUMMY);
        }));
        pool
    }

    /// A place in the pool, or `None` when it is full (answer 429).
    pub fn try_admit(&self) -> Option<Admission> {
        self.admission
            .clone()
            .try_acquire_owned()
            .ok()
            .map(|permit| Admission { _permit: permit })
    }

    /// Runs `work` on a hashing thread. The place is given back when the work is done, even if
    /// the caller has gone (a client that hung up does not free a worker early); `None` if the
    /// pool is shutting down.
    pub async fn run<T: Send + 'static>(
        &self,
        admission: Admission,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(Box::new(move || {
            let result = work();
            drop(admission);
            let _ = tx.send(result);
        }));
        rx.await.ok()
    }

    fn submit(&self, job: Job) {
        if self.jobs.send(job).is_err() {
            tracing::error!("the password hashing threads are gone");
        }
    }
}

fn work(receiver: &Mutex<Receiver<Job>>) {
    loop {
        let job = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match job {
            // A panic in one hash (there should be none) must not take a worker away.
            Ok(job) => {
                if catch_unwind(AssertUnwindSafe(job)).is_err() {
                    tracing::error!("a password hash panicked");
                }
            }
            Err(_) => return,
        }
    }
}
