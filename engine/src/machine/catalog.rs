//! A catalog held in memory: the transition's own tests, and tools that decide without a store.

use super::Catalog;
use crate::definition::{Definition, Package};
use crate::diagnostic::Diagnostic;
use std::collections::HashMap;
use std::sync::Arc;

/// Compiled definitions by id and version, added up front and never changed.
#[derive(Default)]
pub struct StaticCatalog {
    definitions: HashMap<(String, i64), Arc<Definition>>,
}

impl StaticCatalog {
    /// Compiles `package` as `version` of its workflow and adds it.
    pub fn add(
        &mut self,
        package: &Package,
        version: i64,
    ) -> Result<Arc<Definition>, Vec<Diagnostic>> {
        let definition = Arc::new(package.compile(version)?);
        self.definitions.insert(
            (definition.id.clone(), definition.version),
            definition.clone(),
        );
        Ok(definition)
    }
}

impl Catalog for StaticCatalog {
    fn get(&self, id: &str, version: i64) -> Option<Arc<Definition>> {
        self.definitions.get(&(id.to_string(), version)).cloned()
    }
}
