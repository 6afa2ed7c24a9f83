//! The engine's one error type, and how a transition's refusal becomes one.

use crate::diagnostic::Diagnostic;
use crate::machine::MachineError;
use crate::store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("the package is not valid")]
    Invalid(Vec<Diagnostic>),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("the submitted data is not valid")]
    InvalidData(Vec<procedo_forms::FieldError>),
    #[error("{0}")]
    Rejected(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<MachineError> for EngineError {
    fn from(err: MachineError) -> Self {
        match err {
            MachineError::TaskNotOpen | MachineError::NotActive(_) | MachineError::NotNow(_) => {
                EngineError::Conflict(err.to_string())
            }
            MachineError::Forbidden(why) => EngineError::Forbidden(why),
            MachineError::InvalidData(errors) => EngineError::InvalidData(errors),
            MachineError::UnknownDefinition(id) => {
                EngineError::NotFound(format!("workflow `{id}`"))
            }
            // Handled like a lost race at commit: the callers' retry loops decide again.
            MachineError::Stale(_) => {
                EngineError::Store(StoreError::Conflict(crate::store::Conflict::ReadChanged))
            }
            other => EngineError::Rejected(other.to_string()),
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
