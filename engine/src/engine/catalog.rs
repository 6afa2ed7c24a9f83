//! Compiled definitions: loaded from the store on first use and shared (`Arc`) by every
//! command, with the pinned versions of the workflows a case spawns.

use super::{Engine, EngineError, Result};
use crate::definition::{Definition, Package};
use crate::machine::Catalog;
use crate::model::Instance;
use crate::store::StoreError;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

/// Compiled definitions by id and version, loaded from the store on first use. Which version
/// a name means is never cached: it depends on the tenant and on deploys by other processes.
/// Keyed by id, then version, so a lookup borrows the id instead of making a key: a step
/// asks for its definition several times.
#[derive(Default)]
pub(crate) struct Definitions {
    by_version: RwLock<HashMap<String, BTreeMap<i64, Arc<Definition>>>>,
}

impl Catalog for Definitions {
    fn get(&self, id: &str, version: i64) -> Option<Arc<Definition>> {
        self.by_version.read().ok()?.get(id)?.get(&version).cloned()
    }
}

impl Definitions {
    pub(super) fn insert(&self, definition: Definition) -> Arc<Definition> {
        let definition = Arc::new(definition);
        if let Ok(mut map) = self.by_version.write() {
            map.entry(definition.id.clone())
                .or_default()
                .insert(definition.version, definition.clone());
        }
        definition
    }
}

impl Engine {
    pub(crate) async fn definition(&self, id: &str, version: i64) -> Result<Arc<Definition>> {
        if let Some(definition) = self.definitions.get(id, version) {
            return Ok(definition);
        }
        let stored =
            self.store.definition(id, version).await?.ok_or_else(|| {
                EngineError::NotFound(format!("workflow `{id}` version {version}"))
            })?;
        self.compile_stored(id, stored.version, &stored.package)
    }

    /// What `id` means for `tenant`: its own latest version, else the latest shared one —
    /// asked of the store, as another process may have deployed since.
    pub(crate) async fn resolve(&self, id: &str, tenant: &str) -> Result<Arc<Definition>> {
        // The version first, without the package: a compiled version is never loaded again.
        let version = self
            .store
            .resolved_version(id, Some(tenant))
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("workflow `{id}`")))?;
        self.definition(id, version).await
    }

    fn compile_stored(&self, id: &str, version: i64, package: &Package) -> Result<Arc<Definition>> {
        let definition = package.compile(version).map_err(|diagnostics| {
            EngineError::Store(StoreError::Corrupt(format!(
                "stored workflow `{id}` v{version} no longer compiles: {}",
                diagnostics
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            )))
        })?;
        Ok(self.definitions.insert(definition))
    }

    /// The versions of every workflow `definition` spawns, transitively, as `tenant` resolves
    /// them now: fixed at start, so a later deploy never changes what a running procedure's
    /// children run.
    pub(crate) async fn pins_for(
        &self,
        definition: &Definition,
        tenant: &str,
    ) -> Result<BTreeMap<String, i64>> {
        let mut pins = BTreeMap::new();
        let mut pending: Vec<String> = definition.spawned_workflows().map(str::to_string).collect();
        while let Some(id) = pending.pop() {
            if pins.contains_key(&id) {
                continue;
            }
            let child = if id == definition.id {
                self.definition(&id, definition.version).await?
            } else {
                self.resolve(&id, tenant).await?
            };
            pins.insert(id, child.version);
            pending.extend(child.spawned_workflows().map(str::to_string));
        }
        Ok(pins)
    }

    /// Loads what a command on `instance` may need: its definition and the pinned versions of
    /// the workflows it spawns. An instance started before versions were pinned (migration
    /// 0010) is pinned now, to what its tenant resolves, and keeps that from its next write.
    pub(crate) async fn prepare(&self, mut instance: Instance) -> Result<Instance> {
        let definition = self
            .definition(&instance.definition, instance.definition_version)
            .await?;
        let mut pending: Vec<String> = definition.spawned_workflows().map(str::to_string).collect();
        let mut seen = std::collections::HashSet::new();
        while let Some(id) = pending.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            let child = match instance.pins.get(&id) {
                Some(version) => self.definition(&id, *version).await?,
                None => {
                    let child = self.resolve(&id, &instance.tenant).await?;
                    instance.pins.insert(id.clone(), child.version);
                    child
                }
            };
            pending.extend(child.spawned_workflows().map(str::to_string));
        }
        Ok(instance)
    }
}
