//! Which check of a commit failed, typed.
//!
//! A commit fails with a conflict when a record it checks was changed by someone else first
//! (see [`super::plan::Check`]). What the caller does next depends on which record: an
//! instance changed under it means "decide again on fresh data"; a timer or a schedule
//! occurrence already fired means "someone else did it: stop". Callers match on this enum,
//! never on the text. The text travels through PostgreSQL (the self-checking statement
//! raises it) and comes back here by [`Conflict::from_message`].

/// A record the commit checked, found changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conflict {
    InstanceChanged,
    InstanceExists,
    InstanceInLedger,
    KeyNotIndexed,
    TaskExists,
    TaskClosed,
    TimerExists,
    TimerFired,
    DocumentExists,
    RegisterNumbered,
    ScheduleFired,
    PoolChanged,
    LineChanged,
    NotInLine,
    JobExists,
    JobNotHeld,
    NotAnIncident,
    NoticeExists,
    /// Another case's convenzione holds the relation (`GRANT_RELATION` wrote nothing).
    RelationHeld,
    HistoryExtended,
    /// What the decision read changed while it was being read (a line moved on between
    /// reading the line and its head).
    ReadChanged,
    /// A unique key or a check the database reported without saying which.
    SameRecords,
}

const ALL: [Conflict; 22] = [
    Conflict::InstanceChanged,
    Conflict::InstanceExists,
    Conflict::InstanceInLedger,
    Conflict::KeyNotIndexed,
    Conflict::TaskExists,
    Conflict::TaskClosed,
    Conflict::TimerExists,
    Conflict::TimerFired,
    Conflict::DocumentExists,
    Conflict::RegisterNumbered,
    Conflict::ScheduleFired,
    Conflict::PoolChanged,
    Conflict::LineChanged,
    Conflict::NotInLine,
    Conflict::JobExists,
    Conflict::JobNotHeld,
    Conflict::NotAnIncident,
    Conflict::NoticeExists,
    Conflict::RelationHeld,
    Conflict::HistoryExtended,
    Conflict::ReadChanged,
    Conflict::SameRecords,
];

impl Conflict {
    /// What a client is told (409), and what PostgreSQL raises for it.
    pub fn message(self) -> &'static str {
        match self {
            Self::InstanceChanged => "the instance was changed by someone else",
            Self::InstanceExists => "the instance already exists",
            Self::InstanceInLedger => "the instance is already in the ledger",
            Self::KeyNotIndexed => "the key was not indexed",
            Self::TaskExists => "the task already exists",
            Self::TaskClosed => "the task is no longer open",
            Self::TimerExists => "the timer already exists",
            Self::TimerFired => "the timer has already fired",
            Self::DocumentExists => "the document already exists",
            Self::RegisterNumbered => "the register was numbered by another transition",
            Self::ScheduleFired => "the schedule already fired",
            Self::PoolChanged => "the pool was changed by another transition",
            Self::LineChanged => "the line was changed by another transition",
            Self::NotInLine => "the instance is no longer in the line",
            Self::JobExists => "the job already exists",
            Self::JobNotHeld => "the job was answered, or its lock passed to another worker",
            Self::NotAnIncident => "the job is no longer an incident",
            Self::NoticeExists => "the notice already exists",
            Self::RelationHeld => "the relation is held by another case's convenzione",
            Self::HistoryExtended => "the history was extended by another transition",
            Self::ReadChanged => "the data read changed meanwhile",
            Self::SameRecords => "another transition wrote the same records first",
        }
    }

    /// The conflict PostgreSQL raised, by its text; unknown texts are [`Conflict::SameRecords`].
    pub fn from_message(text: &str) -> Self {
        ALL.into_iter()
            .find(|c| c.message() == text)
            .unwrap_or(Self::SameRecords)
    }

    /// Whether whoever won already did what the command was for (fired the timer, fired the
    /// schedule's occurrence): deciding again would only lose again.
    pub fn already_done(self) -> bool {
        matches!(self, Self::TimerFired | Self::ScheduleFired)
    }
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_conflict_comes_back_from_its_own_message() {
        for conflict in ALL {
            assert_eq!(Conflict::from_message(conflict.message()), conflict);
        }
        assert_eq!(
            Conflict::from_message("no such text"),
            Conflict::SameRecords
        );
    }

    #[test]
    fn only_a_fired_timer_or_schedule_means_the_work_is_done() {
        let done: Vec<Conflict> = ALL.into_iter().filter(|c| c.already_done()).collect();
        assert_eq!(done, [Conflict::TimerFired, Conflict::ScheduleFired]);
    }
}
