//! Counters and latency histograms the engine keeps in memory, rendered by the API at
//! `/metrics` in the Prometheus text format and read by the benchmarks.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the histogram buckets, in milliseconds.
const BOUNDS_MS: [u64; 22] = [
    1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000, 10000,
    60000,
];

/// A fixed-bucket histogram of durations in milliseconds, safe to update from many tasks.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BOUNDS_MS.len() + 1],
    count: AtomicU64,
    sum_ms: AtomicU64,
    max_ms: AtomicU64,
}

impl Histogram {
    pub fn record(&self, ms: u64) {
        let slot = BOUNDS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(BOUNDS_MS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ms.fetch_add(ms, Ordering::Relaxed);
        self.max_ms.fetch_max(ms, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn max_ms(&self) -> u64 {
        self.max_ms.load(Ordering::Relaxed)
    }

    /// The upper bound of the bucket holding quantile `q` (0..=1): a conservative estimate.
    pub fn quantile_ms(&self, q: f64) -> u64 {
        let total = self.count();
        if total == 0 {
            return 0;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            seen += bucket.load(Ordering::Relaxed);
            if seen >= rank {
                return BOUNDS_MS.get(i).copied().unwrap_or_else(|| self.max_ms());
            }
        }
        self.max_ms()
    }

    pub fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, bound) in BOUNDS_MS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{}\"}} {cumulative}",
                *bound as f64 / 1000.0
            );
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count());
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_ms.load(Ordering::Relaxed) as f64 / 1000.0
        );
        let _ = writeln!(out, "{name}_count {}", self.count());
    }
}

/// What the engine counts.
#[derive(Default)]
pub struct Metrics {
    pub transitions: AtomicU64,
    pub completions: AtomicU64,
    pub conflicts: AtomicU64,
    pub timers_fired: AtomicU64,
    /// How late timers fired, relative to when they were due.
    pub timer_lateness: Histogram,
    pub jobs_completed: AtomicU64,
    pub jobs_failed: AtomicU64,
    /// Failures that left no retries: each made an incident.
    pub incidents: AtomicU64,
    /// How long a job waited from when it could be fetched to its fetch.
    pub job_lateness: Histogram,
}

impl Metrics {
    /// The Prometheus text exposition of the engine's metrics.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, help, value) in [
            (
                "procedo_transitions_total",
                "Committed transitions.",
                &self.transitions,
            ),
            (
                "procedo_task_completions_total",
                "Completed tasks.",
                &self.completions,
            ),
            (
                "procedo_conflicts_total",
                "Commits that lost a race and were retried or refused.",
                &self.conflicts,
            ),
            (
                "procedo_timers_fired_total",
                "Timers fired.",
                &self.timers_fired,
            ),
            (
                "procedo_jobs_completed_total",
                "Service jobs completed by workers.",
                &self.jobs_completed,
            ),
            (
                "procedo_jobs_failed_total",
                "Service job failures reported by workers.",
                &self.jobs_failed,
            ),
            (
                "procedo_incidents_total",
                "Service jobs that failed with no retries left.",
                &self.incidents,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        self.timer_lateness.render(
            "procedo_timer_lateness_seconds",
            "How late timers fired.",
            &mut out,
        );
        self.job_lateness.render(
            "procedo_job_lateness_seconds",
            "How long service jobs waited to be fetched.",
            &mut out,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_bucket_bounds() {
        let h = Histogram::default();
        for ms in [0, 1, 4, 4, 4, 4, 4, 4, 4, 800] {
            h.record(ms);
        }
        assert_eq!(h.quantile_ms(0.5), 5);
        assert_eq!(h.quantile_ms(0.99), 1000);
        assert_eq!(h.max_ms(), 800);
        assert!(
            Metrics::default()
                .render()
                .contains("procedo_timer_lateness_seconds_count 0")
        );
    }
}
