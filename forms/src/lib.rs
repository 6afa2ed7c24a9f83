//! Forms for Procedo: the YAML form model, Italian field types and their validation,
//! and accessible HTML rendering.
//!
//! A workflow package contains `forms/NAME.yaml` files. The engine
//! [parses](FormSpec::parse) them when the package is compiled (reporting every mistake
//! with its line), [validates](FormSpec::validate) what users submit — turning Italian
//! notations (`4.555.500,00`, `31/12/2024`, `rssmra85t10 a562s`) into canonical stored
//! values — and [renders](FormSpec::render_html) them back with errors attached.
//!
//! The crate is deliberately free of I/O and of CEL: conditions are evaluated by a
//! closure the engine passes in, so forms can be tested in isolation.
//!
//! Modules, one concept each:
//! * [`identifiers`] — codice fiscale, partita IVA, CIG, CUP, IBAN, e-mail/PEC, phone, URL;
//! * [`money`] — exact amounts, decimals and percentages;
//! * [`schema`] — the form file model and its parser;
//! * [`validate`] — validation and normalisation of submitted data;
//! * [`render`] — HTML output.

pub mod dates;
pub mod identifiers;
pub mod money;
pub mod render;
pub mod schema;
pub mod validate;

pub use identifiers::{IdError, Normalised};
pub use money::NumberError;
pub use render::{ListEditError, escape_html};
pub use schema::{Bound, ChoiceOption, Field, FieldType, FormDiagnostic, FormSpec, Prefill};
pub use validate::{Conditions, FieldError};

/// Either way a form can fail, for callers that want one error type with `?`.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    /// The form file is invalid.
    #[error("invalid form file: {}", join(.0))]
    Definition(Vec<FormDiagnostic>),
    /// The submitted data is invalid.
    #[error("invalid form data: {}", join(.0))]
    Data(Vec<FieldError>),
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<Vec<FormDiagnostic>> for FormError {
    fn from(d: Vec<FormDiagnostic>) -> Self {
        FormError::Definition(d)
    }
}

impl From<Vec<FieldError>> for FormError {
    fn from(e: Vec<FieldError>) -> Self {
        FormError::Data(e)
    }
}
