//! Where the engine gets the time: the system clock in production, a clock that moves only
//! when told to in tests, and the shifted clock of `procedo serve --test-clock`.

use crate::timefmt;
use chrono::{DateTime, Utc};
use std::sync::Mutex;

/// Where the engine gets the time: injected, so tests drive deadlines without sleeping.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        timefmt::micros(Utc::now())
    }
}

/// A clock that moves only when told to.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(timefmt::micros(start)))
    }
    pub fn set(&self, t: DateTime<Utc>) {
        if let Ok(mut now) = self.0.lock() {
            *now = timefmt::micros(t);
        }
    }
    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut now) = self.0.lock() {
            *now += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().map(|t| *t).unwrap_or_default()
    }
}

/// A clock that runs with real time from an instant a test sets: what `procedo serve
/// --test-clock` uses, so that a browser test can jump to the end of a 30-day term while
/// everything that waits on real time (locks, retries, long polls) keeps flowing.
pub struct ShiftedClock(Mutex<chrono::Duration>);

impl ShiftedClock {
    /// Starts the clock at `start`.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(start - Utc::now()))
    }

    /// Moves the clock to `t` (and on from there with real time).
    pub fn set(&self, t: DateTime<Utc>) {
        if let Ok(mut offset) = self.0.lock() {
            *offset = t - Utc::now();
        }
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        let offset = self.0.lock().map(|o| *o).unwrap_or_default();
        timefmt::micros(Utc::now() + offset)
    }
}
