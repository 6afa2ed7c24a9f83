//! The tenant registry: who the tenants are (their display names, kinds and own calendar
//! days), which tenant may act on behalf of which, and the registry shipped with Procedo.
//!
//! These are administration operations on the store, shared by the CLI (`procedo tenant
//! add|list|relate`, run by whoever runs the installation) and by the API (platform
//! administrators). The checks that use the registry at run time (a relation for
//! `on_behalf_of`, names in acts) live in the engine.

use crate::store::{RelationRow, Store, StoreError, TenantRow};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use thiserror::Error;

/// The registry a new installation needs: the Provinces of the programme, the Liberi
/// Consorzi of Sicily and the Provinces of Sardinia, each with its capital's patron day.
pub const SHIPPED_REGISTRY: &str = include_str!("../data/tenants.yaml");

/// Kinds of tenant the registry knows.
pub const KINDS: &[&str] = &[
    "platform",
    "provincia",
    "libero-consorzio",
    "citta-metropolitana",
    "comune",
    "unione-di-comuni",
    "altro",
];

#[derive(Debug, Error)]
pub enum TenancyError {
    #[error("{0}")]
    Invalid(String),
    #[error("tenant `{0}` is not registered (register it with `procedo tenant add`)")]
    Unknown(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<TenancyError> for crate::EngineError {
    fn from(err: TenancyError) -> Self {
        match err {
            TenancyError::Invalid(why) => crate::EngineError::Rejected(why),
            TenancyError::Unknown(_) => crate::EngineError::Rejected(err.to_string()),
            TenancyError::Store(e) => crate::EngineError::Store(e),
        }
    }
}

/// A tenant id: lowercase letters, digits and `-`, at most 64 characters (it is typed in
/// tokens, URLs and logs).
pub fn check_id(id: &str) -> Result<(), TenancyError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(TenancyError::Invalid(format!(
            "tenant id `{id}` must be 1 to 64 lowercase letters, digits and `-`"
        )))
    }
}

/// Registers a tenant, or changes its display name and kind.
pub async fn add(
    store: &Store,
    id: &str,
    name: &str,
    kind: &str,
    now: DateTime<Utc>,
) -> Result<TenantRow, TenancyError> {
    check_id(id)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(TenancyError::Invalid(
            "a tenant's name must be 1 to 200 characters".into(),
        ));
    }
    if !KINDS.contains(&kind) {
        return Err(TenancyError::Invalid(format!(
            "kind `{kind}` is not one of: {}",
            KINDS.join(", ")
        )));
    }
    let row = TenantRow {
        id: id.to_string(),
        name: name.to_string(),
        kind: kind.to_string(),
    };
    store.upsert_tenant(&row, now).await?;
    Ok(row)
}

/// Records that `provider` may act on behalf of `client` (both registered), for the workflows
/// of `scope` (empty: every workflow), from `from` to `until` inclusive. Relating the same pair
/// again replaces the relation. `by` (who recorded it) and the relation go into the relation
/// chain, which verification checks the row against.
pub async fn relate(
    store: &Store,
    provider: &str,
    client: &str,
    scope: Vec<String>,
    from: Option<NaiveDate>,
    until: Option<NaiveDate>,
    (by, now): (&str, DateTime<Utc>),
) -> Result<RelationRow, TenancyError> {
    for id in [provider, client] {
        if store.tenant(id).await?.is_none() {
            return Err(TenancyError::Unknown(id.to_string()));
        }
    }
    if provider == client {
        return Err(TenancyError::Invalid(
            "a tenant does not act on behalf of itself".into(),
        ));
    }
    if let (Some(from), Some(until)) = (from, until)
        && until < from
    {
        return Err(TenancyError::Invalid(format!(
            "the relation ends ({until}) before it starts ({from})"
        )));
    }
    let scope: Vec<String> = scope
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(bad) = scope.iter().find(|s| !crate::definition::is_workflow_id(s)) {
        return Err(TenancyError::Invalid(format!(
            "`{bad}` in the scope is not a workflow id"
        )));
    }
    let row = RelationRow {
        provider: provider.to_string(),
        client: client.to_string(),
        scope: (!scope.is_empty()).then_some(scope),
        from,
        until,
        granted_by: None,
    };
    store.relate(&row, by, now).await?;
    Ok(row)
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<NaiveDate, TenancyError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| TenancyError::Invalid(format!("`{text}` is not a date (YYYY-MM-DD)")))
}

/// One entry of the shipped registry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    name: String,
    kind: String,
    /// The patron day of the capital (`MM-DD`); absent where the source is unsure or the feast
    /// moves from year to year.
    #[serde(default)]
    patron: Option<Patron>,
    #[serde(default)]
    #[allow(dead_code)] // a note for readers of the file
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Patron {
    day: String,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Registry {
    tenants: Vec<Entry>,
}

/// A registry entry as loaded: the tenant and its own holidays (month, day, name).
pub type Seed = (TenantRow, Vec<(i64, i64, String)>);

/// Parses a registry file, checking every id, kind and day.
pub fn parse_registry(text: &str) -> Result<Vec<Seed>, TenancyError> {
    let registry: Registry = serde_yaml::from_str(text)
        .map_err(|e| TenancyError::Invalid(format!("tenant registry: {e}")))?;
    let mut out = Vec::new();
    for entry in registry.tenants {
        check_id(&entry.id)?;
        if !KINDS.contains(&entry.kind.as_str()) {
            return Err(TenancyError::Invalid(format!(
                "tenant registry: `{}` has kind `{}`",
                entry.id, entry.kind
            )));
        }
        let mut holidays = Vec::new();
        if let Some(patron) = entry.patron {
            let day = NaiveDate::parse_from_str(&format!("2024-{}", patron.day), "%Y-%m-%d")
                .map_err(|_| {
                    TenancyError::Invalid(format!(
                        "tenant registry: `{}` has patron day `{}` (MM-DD)",
                        entry.id, patron.day
                    ))
                })?;
            use chrono::Datelike as _;
            holidays.push((i64::from(day.month()), i64::from(day.day()), patron.name));
        }
        out.push((
            TenantRow {
                id: entry.id,
                name: entry.name,
                kind: entry.kind,
            },
            holidays,
        ));
    }
    Ok(out)
}

/// Loads the shipped registry (idempotent): registers each tenant not yet registered, names
/// those carried forward under their bare id, and gives them their patron day. A tenant an
/// administrator already named, and the holidays they set, are left alone. Returns how many
/// entries it loaded.
pub async fn seed(store: &Store, now: DateTime<Utc>) -> Result<usize, TenancyError> {
    let mut loaded = 0;
    for (tenant, holidays) in parse_registry(SHIPPED_REGISTRY)? {
        if store.seed_tenant(&tenant, &holidays, now).await? {
            loaded += 1;
        }
    }
    // The platform tenant exists on every installation.
    let platform = TenantRow {
        id: crate::engine::PLATFORM_TENANT.into(),
        name: "Piattaforma Procedo".into(),
        kind: "platform".into(),
    };
    store.seed_tenant(&platform, &[], now).await?;
    Ok(loaded)
}
