//! The set of instances one command touches, and what it has done to them so far.

use super::{Catalog, Change, Effect, MachineError, RegisterNumber, Registers, Transition};
use crate::definition::Definition;
use crate::history::{Event, EventKind, Note};
use crate::ids::InstanceId;
use crate::model::{Actor, Instance};
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use std::sync::Arc;
use uuid::Uuid;

struct Slot {
    instance: Instance,
    expected_version: Option<i64>,
    event: Option<Event>,
    /// The business keys as loaded (`None` for a created instance), to write them only when
    /// a step changes them.
    loaded_keys: Option<Vec<(String, String)>>,
    /// The status as loaded (`None` for a created instance), to write it only when a step
    /// changes it.
    loaded_status: Option<crate::model::Status>,
}

/// An instance's business keys as the case list's index holds them.
fn index_keys(catalog: &dyn Catalog, instance: &Instance) -> Vec<(String, String)> {
    catalog
        .get(&instance.definition, instance.definition_version)
        .map(|d| d.index_keys(instance))
        .unwrap_or_default()
}

pub struct Working<'a> {
    catalog: &'a dyn Catalog,
    /// The legal calendar of the tenant the command runs for (its holidays, its version).
    pub calendar: crate::calendar::Calendar,
    /// The tenant's shared pools, as this command changes them.
    pub pools: super::Pools,
    registers: Registers,
    /// Display names of tenants (see [`super::Context::tenant_names`]).
    pub tenant_names: Arc<crate::model::TenantNames>,
    /// Kinds of tenants (see [`super::Context::tenant_kinds`]).
    pub tenant_kinds: Arc<crate::model::TenantNames>,
    /// See [`super::Context::relations`].
    pub relations: Vec<crate::store::RelationRow>,
    /// See [`super::Context::rotation`].
    pub rotation: Vec<crate::store::RotationRow>,
    /// See [`super::Context::rotation_read`].
    pub rotation_read: bool,
    /// Who completed which task states of the instance (see [`super::Context::completers`]).
    pub completers: Vec<(String, String)>,
    /// The files the command's data names (see [`super::Context::files`]).
    pub files: std::collections::BTreeMap<Uuid, crate::store::FileRow>,
    pub actor: &'a Actor,
    pub now: DateTime<Utc>,
    /// Ids for what the command creates (see [`super::ids`]).
    ids: super::ids::Ids,
    slots: IndexMap<InstanceId, Slot>,
    effects: Vec<Effect>,
}

impl<'a> Working<'a> {
    pub fn new(
        catalog: &'a dyn Catalog,
        context: super::Context,
        actor: &'a Actor,
        now: DateTime<Utc>,
        seed: Uuid,
        step: i64,
    ) -> Self {
        Self {
            catalog,
            calendar: context.calendar,
            registers: context.registers,
            pools: context.pools,
            tenant_names: context.tenant_names,
            tenant_kinds: context.tenant_kinds,
            relations: context.relations,
            rotation: context.rotation,
            rotation_read: context.rotation_read,
            completers: context.completers,
            files: context.files,
            actor,
            now,
            ids: super::ids::Ids::new(seed, now, step),
            slots: IndexMap::new(),
            effects: Vec::new(),
        }
    }

    /// A new id for something this command creates (a task, a timer, a child instance…).
    pub fn new_id(&mut self) -> Uuid {
        self.ids.next()
    }

    /// Takes the next number of a tenant's register for the current year (Europe/Rome).
    pub fn next_number(&mut self, tenant: &str, register: &str) -> RegisterNumber {
        let year = crate::documents::register_year(self.now);
        let last = self
            .registers
            .entry((tenant.to_string(), register.to_string(), year))
            .or_insert(0);
        let number = RegisterNumber {
            tenant: tenant.to_string(),
            register: register.to_string(),
            year,
            previous: *last,
            seq: *last + 1,
        };
        *last += 1;
        number
    }

    /// Adds an instance as loaded from the store.
    pub fn load(&mut self, instance: Instance) {
        let expected_version = Some(instance.version);
        let loaded_keys = Some(index_keys(self.catalog, &instance));
        let loaded_status = Some(instance.status.clone());
        self.slots.insert(
            instance.id,
            Slot {
                instance,
                expected_version,
                event: None,
                loaded_keys,
                loaded_status,
            },
        );
    }

    /// Adds an instance created by this command.
    pub fn create(&mut self, instance: Instance) {
        self.slots.insert(
            instance.id,
            Slot {
                instance,
                expected_version: None,
                event: None,
                loaded_keys: None,
                loaded_status: None,
            },
        );
    }

    pub fn get(&self, id: InstanceId) -> Result<&Instance, MachineError> {
        self.slots
            .get(&id)
            .map(|s| &s.instance)
            .ok_or_else(|| MachineError::Inconsistent(format!("instance {id} was not loaded")))
    }

    /// Instance `id`, which a command may still change: an ended or cancelled case refuses
    /// every command (`NotActive`, a 409).
    pub fn active(&self, id: InstanceId) -> Result<&Instance, MachineError> {
        let instance = self.get(id)?;
        if !instance.status.is_active() {
            return Err(MachineError::NotActive(instance.status.label().to_string()));
        }
        Ok(instance)
    }

    /// The active instance of `task`, when the task is still the open task of its current
    /// state: the one guard of every command about a task (complete, assign, pause, resume).
    /// A task already completed, or of a state the case has left, is `TaskNotOpen` (a 409).
    pub fn with_open_task(&self, task: &crate::model::Task) -> Result<&Instance, MachineError> {
        let instance = self.active(task.instance)?;
        if task.status != crate::model::TaskStatus::Open || task.state != instance.state {
            return Err(MachineError::TaskNotOpen);
        }
        Ok(instance)
    }

    pub fn get_mut(&mut self, id: InstanceId) -> Result<&mut Instance, MachineError> {
        self.slots
            .get_mut(&id)
            .map(|s| &mut s.instance)
            .ok_or_else(|| MachineError::Inconsistent(format!("instance {id} was not loaded")))
    }

    pub fn is_loaded(&self, id: InstanceId) -> bool {
        self.slots.contains_key(&id)
    }

    pub fn definition(&self, id: &str, version: i64) -> Result<Arc<Definition>, MachineError> {
        self.catalog
            .get(id, version)
            .ok_or_else(|| MachineError::UnknownDefinition(format!("{id} v{version}")))
    }

    pub fn definition_of(&self, id: InstanceId) -> Result<Arc<Definition>, MachineError> {
        let instance = self.get(id)?;
        self.definition(&instance.definition, instance.definition_version)
    }

    /// The history event this command writes for `id`, opened on first use with `kind`.
    pub fn event(&mut self, id: InstanceId, kind: EventKind) -> Result<&mut Event, MachineError> {
        let (now, actor) = (self.now, self.actor);
        let slot = self
            .slots
            .get_mut(&id)
            .ok_or_else(|| MachineError::Inconsistent(format!("instance {id} was not loaded")))?;
        // Every note of the step comes here: the event is made once, on the first.
        Ok(slot.event.get_or_insert_with(|| {
            let mut event = Event::new(id, 0, now, &actor.user, kind.as_str());
            event.v = Some(crate::history::FORMAT);
            event.actor_tenant = Some(actor.tenant.to_string());
            event.from_state = slot
                .expected_version
                .is_some()
                .then(|| slot.instance.state.clone());
            event
        }))
    }

    /// Records an effect and notes it in the instance's event.
    pub fn effect(
        &mut self,
        id: InstanceId,
        effect: Effect,
        note: Note,
    ) -> Result<(), MachineError> {
        self.note(id, note)?;
        self.effects.push(effect);
        Ok(())
    }

    /// Records an effect that the instance's event already describes.
    pub fn push(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    /// Notes what the step caused in the instance's event (opened as a plain `step` if the
    /// command has not opened it yet).
    pub fn note(&mut self, id: InstanceId, note: Note) -> Result<(), MachineError> {
        self.event(id, EventKind::Step)?.note(&note);
        Ok(())
    }

    /// Seals one event per touched instance and returns everything to commit.
    pub fn finish(self) -> Transition {
        let now = self.now;
        let mut changes = Vec::new();
        let mut effects = self.effects;
        for (_, slot) in self.slots {
            let Some(mut event) = slot.event else {
                continue;
            };
            let mut instance = slot.instance;
            event.seq = instance.seq + 1;
            event.prev_hash = instance.last_hash.clone();
            event.to_state = instance.state.clone();
            // The package hash was computed once when the definition was compiled; the
            // variables are hashed once here, for the one event of this instance.
            let package = self
                .catalog
                .get(&instance.definition, instance.definition_version)
                .map(|d| d.package_sha256.clone())
                .unwrap_or_default();
            let variables = crate::history::variables_text(&instance.variables);
            event.after = Some(Box::new(crate::history::After::with_variables(
                &instance, &package, &variables,
            )));
            let sealed = event.seal();
            instance.seq += 1;
            instance.last_hash = sealed.hash.clone();
            instance.updated_at = now;
            if slot.expected_version.is_some() {
                instance.version += 1;
            }
            effects.push(Effect::AppendEvent(sealed));
            let keys = index_keys(self.catalog, &instance);
            let keys = (slot.loaded_keys.as_ref() != Some(&keys)).then_some(keys);
            let status_changed = slot.loaded_status.as_ref() != Some(&instance.status);
            changes.push(Change {
                instance,
                variables,
                expected_version: slot.expected_version,
                keys,
                status_changed,
            });
        }
        Transition { changes, effects }
    }
}
