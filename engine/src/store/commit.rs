//! Committing transitions: the one place where the engine's decisions become rows.
//!
//! `plan.rs` turns each transition into checked statements: an instance is written against the
//! version it was loaded at, a task only while still open, a timer only while still there, a
//! register or schedule only from the value the transition saw. Any failed check, or a
//! unique-key clash on an insert, rolls the whole transaction back as
//! [`super::StoreError::Conflict`]. How the statements travel differs by backend (see
//! `sqlite.rs` and `postgres.rs`); what they do does not.

use super::StoreError;
use super::plan::{Check, Statement};

/// A statement's outcome against its check: `rows` changed, or the database refused it.
pub(crate) fn checked(
    statement: &Statement,
    outcome: Result<u64, sqlx::Error>,
) -> super::Result<()> {
    match (outcome, statement.check) {
        (Ok(1), _) | (Ok(_), Check::Any) => Ok(()),
        (Ok(_), Check::One(what)) => Err(StoreError::Conflict(what)),
        (Err(sqlx::Error::Database(e)), Check::One(what)) if e.is_unique_violation() => {
            Err(StoreError::Conflict(what))
        }
        (Err(e), _) => Err(e.into()),
    }
}

/// Binds a planned argument to a query of either backend.
macro_rules! bind_arg {
    ($query:expr, $arg:expr) => {
        match $arg {
            $crate::store::plan::Arg::Text(v) => $query.bind(*v),
            $crate::store::plan::Arg::Int(v) => $query.bind(*v),
            $crate::store::plan::Arg::Id(v) => $query.bind(*v),
            $crate::store::plan::Arg::Json(v) => $query.bind(v.map(sqlx::types::Json)),
            $crate::store::plan::Arg::Variables(v, _) => $query.bind(sqlx::types::Json(*v)),
            $crate::store::plan::Arg::Names(v) => $query.bind(sqlx::types::Json(*v)),
            $crate::store::plan::Arg::Pins(v) => $query.bind(sqlx::types::Json(*v)),
        }
    };
}
pub(crate) use bind_arg;

/// Implements `commit_all` for one backend, which supplies `run_plan` (see `sql.rs` for why a
/// macro).
macro_rules! sql_commit {
    ($store:ty) => {
        impl $store {
            /// Applies several transitions in one database transaction (a batch of timers).
            pub async fn commit_all(
                &self,
                transitions: &[$crate::machine::Transition],
            ) -> $crate::store::Result<()> {
                let mut tx = self.pool.begin().await?;
                for transition in transitions {
                    let statements = $crate::store::plan::plan(transition);
                    Self::run_plan(&mut tx, &statements).await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}
pub(crate) use sql_commit;
