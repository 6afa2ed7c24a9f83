//! The tenant registry as callers manage it: the bodies, and the relations an administrator
//! records (`procedo tenant relate`, `POST /api/v1/tenants/{id}/relations`). Only the
//! platform's administrators manage it; the rule is here, so the API and any other caller
//! cannot differ on it. (A convenzione grants relations itself: `machine/relations.rs`.)

use super::{Engine, EngineError, Result};
use crate::model::Actor;
use crate::store::{RelationRow, TenantRow};
use chrono::NaiveDate;

impl Engine {
    /// Refuses whoever is not an administrator of the platform tenant.
    pub fn may_manage_registry(&self, actor: &Actor) -> Result<()> {
        if actor.is_platform_admin() {
            Ok(())
        } else {
            Err(EngineError::Forbidden(
                "the tenant registry is managed by administrators of the platform tenant".into(),
            ))
        }
    }

    /// Every tenant and every relation, for the platform's administrators.
    pub async fn registry(&self, actor: &Actor) -> Result<(Vec<TenantRow>, Vec<RelationRow>)> {
        self.may_manage_registry(actor)?;
        Ok((self.store.tenants().await?, self.store.relations().await?))
    }

    /// Registers (or renames) a tenant, and forgets the cached names and kinds.
    pub async fn add_tenant(
        &self,
        actor: &Actor,
        id: &str,
        name: &str,
        kind: &str,
    ) -> Result<TenantRow> {
        self.may_manage_registry(actor)?;
        let row = crate::tenancy::add(&self.store, id, name, kind, self.now()).await?;
        self.forget_registry();
        Ok(row)
    }

    /// Records that `provider` may act on behalf of `client` (for bodies already under
    /// convenzione outside Procedo).
    pub async fn relate_as(
        &self,
        actor: &Actor,
        provider: &str,
        client: &str,
        scope: Vec<String>,
        from: Option<NaiveDate>,
        until: Option<NaiveDate>,
    ) -> Result<RelationRow> {
        self.may_manage_registry(actor)?;
        Ok(crate::tenancy::relate(
            &self.store,
            provider,
            client,
            scope,
            from,
            until,
            (&actor.user, self.now()),
        )
        .await?)
    }

    /// Refuses whoever may not read or make checkpoints, which cover every tenant's chains.
    pub fn may_checkpoint(&self, actor: &Actor) -> Result<()> {
        if actor.may_audit_platform() {
            Ok(())
        } else {
            Err(EngineError::Forbidden(
                "checkpoints cover every tenant: only auditors and administrators of the platform tenant may read or make them".into(),
            ))
        }
    }

    /// Who may read the process's metrics: they count every tenant's work, so a token of the
    /// platform tenant with role `metrics` (the scraper) or an administrator of it.
    pub fn may_read_metrics(&self, actor: &Actor) -> Result<()> {
        if actor.tenant == super::PLATFORM_TENANT && (actor.has_role("metrics") || actor.is_admin())
        {
            Ok(())
        } else {
            Err(EngineError::Forbidden(format!(
                "metrics need a token of tenant `{}` with role `metrics` or `admin`",
                super::PLATFORM_TENANT
            )))
        }
    }

    /// Who may move a test clock (`serve --test-clock`): it moves every tenant's deadlines.
    pub fn may_set_test_clock(&self, actor: &Actor) -> Result<()> {
        if actor.is_platform_admin() {
            Ok(())
        } else {
            Err(EngineError::Forbidden(
                "the test clock is set by administrators of the platform tenant".into(),
            ))
        }
    }
}
