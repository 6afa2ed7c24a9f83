//! What a command needs from outside besides its instances: the tenant's legal calendar and
//! the state of its registers of numbered acts.

use crate::definition::Definition;
use crate::engine::{Engine, EngineError, Result};
use crate::machine::{self, Catalog};
use crate::model::Actor;
use crate::store::StoreError;

impl Engine {
    /// The tenant's pools and lines, and the instances at the head of each line (whom a
    /// release may move on), when `definition` uses pools.
    async fn pools(
        &self,
        definition: &Definition,
        tenant: &str,
    ) -> Result<(machine::Pools, Vec<crate::model::Instance>)> {
        if definition.pools.is_empty() {
            return Ok(Default::default());
        }
        let mut pools = machine::Pools::new();
        for (pool, key, capacity, used, next_seq) in self.store.pools(tenant).await? {
            pools.insert(
                (pool, key),
                machine::PoolState {
                    capacity,
                    used,
                    next_seq,
                    waiting: Default::default(),
                    stored: true,
                },
            );
        }
        for (pool, key, seq, instance) in self.store.pool_waiters(tenant).await? {
            if let Some(state) = pools.get_mut(&(pool, key)) {
                state.waiting.push_back((seq, instance));
            }
        }
        // A command releases at most a couple of units of one pool: the first two in each
        // line are enough to move on.
        let mut others = Vec::new();
        for state in pools.values() {
            for (_, id) in state.waiting.iter().take(2) {
                if let Some(instance) = self.store.instance(*id).await? {
                    others.push(self.prepare(instance).await?);
                }
            }
        }
        Ok((pools, others))
    }

    /// What a command for `tenant` needs besides its instances: the tenant's calendar and,
    /// when acts are numbered, its registers.
    pub(crate) async fn context(
        &self,
        definition: &Definition,
        tenant: &str,
        pins: &std::collections::BTreeMap<String, i64>,
    ) -> Result<machine::Context> {
        let (pools, others) = self.pools(definition, tenant).await?;
        Ok(machine::Context {
            pools,
            others,
            calendar: self.calendar(tenant).await?,
            registers: self.registers(definition, tenant, pins).await?,
            tenant_names: self.tenant_names().await?,
            tenant_kinds: self.tenant_kinds().await?,
            relations: if definition.states.values().any(|s| s.relation.is_some()) {
                let mut relations = self.store.relations().await?;
                relations.retain(|r| r.provider == tenant);
                relations
            } else {
                Vec::new()
            },
            rotation: Vec::new(),
            rotation_read: false,
            completers: Vec::new(),
            files: Default::default(),
        })
    }

    /// The registry's display names, cached for a minute (a tenant renamed by `procedo tenant
    /// add` in another process shows within that time).
    pub async fn tenant_names(&self) -> Result<std::sync::Arc<crate::model::TenantNames>> {
        self.registry_column(&self.tenant_names, |t| t.name).await
    }

    /// The registry's kind of each tenant, cached like the names: what `relation:` checks.
    pub async fn tenant_kinds(&self) -> Result<std::sync::Arc<crate::model::TenantNames>> {
        self.registry_column(&self.tenant_kinds, |t| t.kind).await
    }

    async fn registry_column(
        &self,
        cache: &RegistryCache,
        column: fn(crate::store::TenantRow) -> String,
    ) -> Result<std::sync::Arc<crate::model::TenantNames>> {
        if let Some((loaded, values)) = cache.read().ok().and_then(|n| n.clone())
            && loaded.elapsed() < std::time::Duration::from_secs(60)
        {
            return Ok(values);
        }
        let values: crate::model::TenantNames = self
            .store
            .tenants()
            .await?
            .into_iter()
            .map(|t| (t.id.clone(), column(t)))
            .collect();
        let values = std::sync::Arc::new(values);
        if let Ok(mut cache) = cache.write() {
            *cache = Some((std::time::Instant::now(), values.clone()));
        }
        Ok(values)
    }

    /// Forgets cached names and calendars (after the registry changed in this process).
    pub fn forget_registry(&self) {
        for names in [&self.tenant_names, &self.tenant_kinds] {
            if let Ok(mut cache) = names.write() {
                *cache = None;
            }
        }
        if let Ok(mut cache) = self.calendars.write() {
            cache.clear();
        }
    }

    /// The national calendar plus the tenant's own holidays, cached for a minute (a change
    /// made by another process is seen within that time).
    pub async fn calendar(&self, tenant: &str) -> Result<crate::calendar::Calendar> {
        if let Some((loaded, calendar)) = self
            .calendars
            .read()
            .ok()
            .and_then(|c| c.get(tenant).cloned())
            && loaded.elapsed() < std::time::Duration::from_secs(60)
        {
            return Ok(calendar);
        }
        let mut calendar = crate::calendar::Calendar::italy();
        for (month, day, name) in self.store.tenant_holidays(tenant).await? {
            let (month, day) = (
                u32::try_from(month).unwrap_or(0),
                u32::try_from(day).unwrap_or(0),
            );
            calendar = calendar.with_extra_holiday(month, day).map_err(|e| {
                EngineError::Store(StoreError::Corrupt(format!(
                    "holiday {day}/{month} ({name}) of {tenant}: {e}"
                )))
            })?;
        }
        if let Ok(mut cache) = self.calendars.write() {
            cache.insert(
                tenant.to_string(),
                (std::time::Instant::now(), calendar.clone()),
            );
        }
        Ok(calendar)
    }

    /// Sets the tenant's own holidays (administrators only), replacing the previous ones.
    pub async fn set_holidays(
        &self,
        actor: &Actor,
        holidays: &[(u32, u32, String)],
    ) -> Result<crate::calendar::Calendar> {
        if !actor.is_admin() {
            return Err(EngineError::Forbidden(
                "setting the calendar needs the `admin` role".into(),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (month, day, name) in holidays {
            if !seen.insert((*month, *day)) {
                return Err(EngineError::Rejected(format!(
                    "{day:02}/{month:02} is listed twice: give each day once"
                )));
            }
            if name.trim().is_empty() || name.chars().count() > 100 {
                return Err(EngineError::Rejected(format!(
                    "the holiday of {day:02}/{month:02} needs a name of 1 to 100 characters"
                )));
            }
        }
        let mut calendar = crate::calendar::Calendar::italy();
        for (month, day, _) in holidays {
            calendar = calendar
                .with_extra_holiday(*month, *day)
                .map_err(|e| EngineError::Rejected(e.to_string()))?;
        }
        let rows: Vec<(i64, i64, String)> = holidays
            .iter()
            .map(|(m, d, n)| (i64::from(*m), i64::from(*d), n.clone()))
            .collect();
        self.store.set_tenant_holidays(&actor.tenant, &rows).await?;
        if let Ok(mut cache) = self.calendars.write() {
            cache.remove(actor.tenant.as_str());
        }
        Ok(calendar)
    }

    /// The current numbers of the tenant's registers for this year, when `definition` or a
    /// workflow it spawns numbers its acts (no query otherwise: the common case).
    async fn registers(
        &self,
        definition: &Definition,
        tenant: &str,
        pins: &std::collections::BTreeMap<String, i64>,
    ) -> Result<machine::Registers> {
        let numbers = !definition.registers.is_empty()
            || pins.iter().any(|(id, version)| {
                self.definitions
                    .get(id, *version)
                    .is_some_and(|d| !d.registers.is_empty())
            });
        if !numbers {
            return Ok(Default::default());
        }
        let year = crate::documents::register_year(self.now());
        let rows = self.store.registers(tenant, year).await?;
        Ok(rows
            .into_iter()
            .map(|(register, last)| ((tenant.to_string(), register, year), last))
            .collect())
    }
}

/// A registry column by tenant id and when it was read.
type RegistryCache = std::sync::RwLock<
    Option<(
        std::time::Instant,
        std::sync::Arc<crate::model::TenantNames>,
    )>,
>;
