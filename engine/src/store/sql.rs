//! The SQL of the store, written once for both backends.
//!
//! Both SQLite and PostgreSQL accept `$1`-style parameters, and the store binds the same Rust
//! types to both (UUIDs, JSON through `sqlx::types::Json`, instants as `i64` microseconds), so
//! every statement below is valid on both. The [`sql_store!`] macro instantiates the queries for
//! one concrete backend: sqlx's compile-time checked macros cannot check one query against two
//! databases (launchbadge/sqlx#121), and generic code over `sqlx::Database` costs more in trait
//! bounds than it saves. Only DDL (the migrations) and timer claiming differ per backend.

/// Versions are numbered per workflow id across owners (`$6`, NULL: shared), so that
/// `(id, version)` names one package whoever deployed it.
pub const INSERT_DEFINITION: &str = "INSERT INTO definitions (id, version, title, package, deployed_by, deployed_us, owner) \
     SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, $6 FROM definitions WHERE id = $1 RETURNING version";
pub const SELECT_DEFINITION: &str =
    "SELECT id, version, package, owner FROM definitions WHERE id = $1 AND version = $2";
/// What `definition: X` means for tenant `$2`: its own latest X if it has one, else the latest
/// shared X (with `$2` NULL: the latest shared X only).
pub const RESOLVE_DEFINITION: &str = "SELECT id, version, package, owner FROM definitions \
     WHERE id = $1 AND (owner IS NULL OR owner = $2) \
     ORDER BY CASE WHEN owner IS NULL THEN 1 ELSE 0 END, version DESC LIMIT 1";
/// Only the version [`RESOLVE_DEFINITION`] names: a start asks it every time (another process
/// may have deployed since) and loads the package only for a version it has not compiled.
/// Two maxima over the primary key (`id`, `version`), so no sort; one row, NULL: none.
pub const RESOLVE_VERSION: &str = "SELECT COALESCE(\
     (SELECT MAX(version) FROM definitions WHERE id = $1 AND owner = $2), \
     (SELECT MAX(version) FROM definitions WHERE id = $1 AND owner IS NULL)) AS version";
/// The versions tenant `$1` may see: shared ones and its own (`$1` NULL: every version).
pub const SELECT_DEFINITIONS: &str = "SELECT id, version, title, deployed_by, deployed_us, owner FROM definitions \
     WHERE ($1 IS NULL OR owner IS NULL OR owner = $1) ORDER BY id, version";

/// Instances per definition version and status, of tenant `$1` (its own and those run on
/// its behalf; `$1` NULL: every tenant's), for the administrators' workflows page.
pub const INSTANCE_COUNTS_BY_VERSION: &str = "SELECT definition, definition_version, \
     COUNT(CASE WHEN status = 'active' THEN 1 END) AS active, \
     COUNT(CASE WHEN status = 'ended' THEN 1 END) AS ended, \
     COUNT(CASE WHEN status = 'cancelled' THEN 1 END) AS cancelled \
     FROM instances WHERE ($1 IS NULL OR tenant = $1 OR on_behalf_of = $1) \
     GROUP BY definition, definition_version ORDER BY definition, definition_version";

macro_rules! instance_columns {
    () => {
        "id, tenant, on_behalf_of, definition, definition_version, state, status, status_detail, \
     variables, parent_id, parent_index, children_pending, version, seq, last_hash, created_us, updated_us, pins"
    };
}
pub const SELECT_INSTANCE: &str = concat!(
    "SELECT ",
    instance_columns!(),
    " FROM instances WHERE id = $1"
);
pub const INSERT_INSTANCE: &str = concat!(
    "INSERT INTO instances (",
    instance_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
);
pub const UPDATE_INSTANCE: &str = "UPDATE instances SET state = $1, status = $2, status_detail = $3, variables = $4, \
     children_pending = $5, version = $6, seq = $7, last_hash = $8, updated_us = $9, pins = $12 \
     WHERE id = $10 AND version = $11";
/// [`UPDATE_INSTANCE`] for a step that left the status as it was: the status columns are not
/// written (SQLite then updates neither `instances_by_tenant` nor the status check).
pub const UPDATE_INSTANCE_KEEP_STATUS: &str = "UPDATE instances SET state = $1, variables = $2, \
     children_pending = $3, version = $4, seq = $5, last_hash = $6, updated_us = $7, pins = $8 \
     WHERE id = $9 AND version = $10";
pub const SELECT_INSTANCES: &str = concat!(
    "SELECT ",
    instance_columns!(),
    " FROM instances WHERE (tenant = $1 OR on_behalf_of = $1) \
       AND ($2 IS NULL OR definition = $2) AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR state = $4) \
       AND ($7 IS NULL OR created_us >= $7) AND ($8 IS NULL OR created_us < $8) \
     ORDER BY created_us DESC, id LIMIT $5 OFFSET $6"
);

/// The case list's conditions: those of [`SELECT_INSTANCES`] plus `$9`, a lowercase `LIKE`
/// pattern over the variables' text (a CIG, a Comune, words of the oggetto), with `\` as the
/// escape so the searched words' own `%` and `_` match literally.
macro_rules! case_conditions {
    () => {
        " FROM instances WHERE (tenant = $1 OR on_behalf_of = $1) \
       AND ($2 IS NULL OR definition = $2) AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR state = $4) \
       AND ($7 IS NULL OR created_us >= $7) AND ($8 IS NULL OR created_us < $8) \
       AND ($9 IS NULL OR LOWER(CAST(variables AS TEXT)) LIKE $9 ESCAPE '\\') \
       AND ($10 IS NULL OR id IN (SELECT instance_id FROM instance_keys WHERE value = $10)) "
    };
}
/// The same conditions driven by a key's value (`$10` not NULL): the value is looked up in
/// `instance_keys_by_value` (each instance once, though several of its keys may hold it) and
/// the instances by id, instead of reading every case of the tenant. The `CROSS JOIN` fixes
/// that order for SQLite, which does not reorder it: with `id IN (…)` and no statistics its
/// planner preferred the tenant's index and read all 100,000 cases of a tenant for one CIG
/// (150–330 ms; `procedo bench cases`). PostgreSQL plans the join by its statistics anyway.
macro_rules! keyed_conditions {
    () => {
        " FROM (SELECT DISTINCT instance_id FROM instance_keys WHERE value = $10) AS keyed \
       CROSS JOIN instances WHERE id = keyed.instance_id \
       AND (tenant = $1 OR on_behalf_of = $1) \
       AND ($2 IS NULL OR definition = $2) AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR state = $4) \
       AND ($7 IS NULL OR created_us >= $7) AND ($8 IS NULL OR created_us < $8) \
       AND ($9 IS NULL OR LOWER(CAST(variables AS TEXT)) LIKE $9 ESCAPE '\\') "
    };
}
pub const KEYED_INSTANCES_NEWEST: &str = concat!(
    "SELECT ",
    instance_columns!(),
    keyed_conditions!(),
    "ORDER BY created_us DESC, id LIMIT $5 OFFSET $6"
);
pub const KEYED_INSTANCES_OLDEST: &str = concat!(
    "SELECT ",
    instance_columns!(),
    keyed_conditions!(),
    "ORDER BY created_us ASC, id LIMIT $5 OFFSET $6"
);
pub const KEYED_INSTANCES_UPDATED: &str = concat!(
    "SELECT ",
    instance_columns!(),
    keyed_conditions!(),
    "ORDER BY updated_us DESC, id LIMIT $5 OFFSET $6"
);
pub const COUNT_KEYED_INSTANCES: &str = concat!(
    "SELECT COUNT(*)",
    keyed_conditions!(),
    "AND $5 = $5 AND $6 = $6"
);
/// The case list, one query per order (an order cannot be a parameter).
pub const SEARCH_INSTANCES_NEWEST: &str = concat!(
    "SELECT ",
    instance_columns!(),
    case_conditions!(),
    "ORDER BY created_us DESC, id LIMIT $5 OFFSET $6"
);
pub const SEARCH_INSTANCES_OLDEST: &str = concat!(
    "SELECT ",
    instance_columns!(),
    case_conditions!(),
    "ORDER BY created_us ASC, id LIMIT $5 OFFSET $6"
);
pub const SEARCH_INSTANCES_UPDATED: &str = concat!(
    "SELECT ",
    instance_columns!(),
    case_conditions!(),
    "ORDER BY updated_us DESC, id LIMIT $5 OFFSET $6"
);
/// How many cases the list's conditions match (the total beside a page). `$5` and `$6` are
/// bound and compared with themselves so the parameters are the same as the list's.
pub const COUNT_INSTANCES: &str = concat!(
    "SELECT COUNT(*)",
    case_conditions!(),
    "AND $5 = $5 AND $6 = $6"
);

/// Refreshes PostgreSQL's planner statistics (`Store::analyze`).
pub const ANALYZE: &str = "ANALYZE";
/// PostgreSQL only: holds the end of one chain (its key in `store::chain`) until the
/// transaction ends.
pub const LOCK_CHAIN: &str = "SELECT pg_advisory_xact_lock($1)";

/// The case list's index of an instance's business keys, rewritten when a step changes them.
pub const DELETE_INSTANCE_KEYS: &str = "DELETE FROM instance_keys WHERE instance_id = $1";
pub const INSERT_INSTANCE_KEY: &str =
    "INSERT INTO instance_keys (instance_id, name, value) VALUES ($1, $2, $3)";

/// The children of an instance (a tender's lots), in their `foreach` order.
pub const SELECT_CHILDREN: &str = concat!(
    "SELECT ",
    instance_columns!(),
    " FROM instances WHERE parent_id = $1 ORDER BY parent_index, id"
);

macro_rules! task_columns {
    () => {
        "id, instance_id, tenant, definition, state, role, assignee, due_us, actions, status, \
     completed_action, completed_by, created_us, closed_us, due_derivation, paused_us, pause_reason"
    };
}
pub const SELECT_TASK: &str = concat!("SELECT ", task_columns!(), " FROM tasks WHERE id = $1");
/// A task with its instance, in one query: what every command about a task starts from. The
/// instance's columns carry an `i_` prefix.
pub const SELECT_TASK_WITH_INSTANCE: &str = concat!(
    "SELECT t.id, t.instance_id, t.tenant, t.definition, t.state, t.role, t.assignee, t.due_us, t.actions, \
     t.status, t.completed_action, t.completed_by, t.created_us, t.closed_us, t.due_derivation, t.paused_us, \
     t.pause_reason, \
     i.id AS i_id, i.tenant AS i_tenant, i.on_behalf_of AS i_on_behalf_of, i.definition AS i_definition, \
     i.definition_version AS i_definition_version, i.state AS i_state, i.status AS i_status, \
     i.status_detail AS i_status_detail, i.variables AS i_variables, i.parent_id AS i_parent_id, \
     i.parent_index AS i_parent_index, i.children_pending AS i_children_pending, i.version AS i_version, \
     i.seq AS i_seq, i.last_hash AS i_last_hash, i.created_us AS i_created_us, i.updated_us AS i_updated_us, \
     i.pins AS i_pins",
    " FROM tasks t JOIN instances i ON i.id = t.instance_id WHERE t.id = $1"
);
pub const INSERT_TASK: &str = concat!(
    "INSERT INTO tasks (",
    task_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
);
pub const CLOSE_TASK: &str = "UPDATE tasks SET status = $1, completed_action = $2, completed_by = $3, closed_us = $4 \
     WHERE id = $5 AND status = 'open'";
pub const CANCEL_OPEN_TASKS: &str = "UPDATE tasks SET status = 'cancelled', closed_us = $1 WHERE instance_id = $2 AND status = 'open'";
pub const REASSIGN_TASK: &str =
    "UPDATE tasks SET role = $1, assignee = NULL WHERE id = $2 AND status = 'open'";
pub const ASSIGN_TASK: &str =
    "UPDATE tasks SET assignee = $1, role = $2 WHERE id = $3 AND status = 'open'";
/// Open tasks of a tenant, a page of `$5` from `$9`, each row with `total`: how many tasks the
/// conditions match (a window over the whole result, so the page and its total come from one
/// statement and agree). With `$6` set (to 1) only those for one of the caller's roles,
/// unassigned or assigned to `$3`, the caller; with `$7` only those of one workflow; with `$8`
/// only those assigned to that user. Ordered to the id so that pages neither repeat nor skip.
const SELECT_OPEN_TASKS_HEAD: &str = concat!(
    "SELECT ",
    task_columns!(),
    ", COUNT(*) OVER () AS total FROM tasks WHERE status = 'open' AND tenant = $1 AND ($2 IS NULL OR instance_id = $2) \
       AND ($4 IS NULL OR due_us < $4) \
       AND ($7 IS NULL OR definition = $7) AND ($8 IS NULL OR assignee = $8) \
       AND ($6 IS NULL OR ((assignee IS NULL OR assignee = $3) AND role IN ("
);
const SELECT_OPEN_TASKS_TAIL: &str =
    "))) ORDER BY due_us IS NULL, due_us, created_us, id LIMIT $5 OFFSET $9";

/// The open tasks of one instance, through `tasks_by_instance`: what the in-process listing of
/// an instance's tasks reads before it filters, orders, counts and pages them as
/// [`select_open_tasks`] does (whose one plan, whatever the bindings, reads all the tenant's
/// open tasks through `tasks_open_by_tenant`, then sorts them with a window count).
pub const SELECT_OPEN_TASKS_OF_INSTANCE: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks WHERE instance_id = $1 AND status = 'open'"
);

/// The most roles one caller's task list matches on (a token or user with more sees the
/// tasks of the first ones only; nobody holds that many).
pub const MAX_ROLES: usize = 64;

/// [`SELECT_OPEN_TASKS_HEAD`] with one parameter per role, `$10…`: roles compare by equality
/// only, so no role name (`%`, `_`) can act as a pattern. With no roles, `role IN (NULL)`
/// matches nothing.
pub fn select_open_tasks(roles: usize) -> String {
    let roles = roles.min(MAX_ROLES);
    let mut sql = String::from(SELECT_OPEN_TASKS_HEAD);
    if roles == 0 {
        sql.push_str("NULL");
    }
    for i in 0..roles {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("${}", 10 + i));
    }
    sql.push_str(SELECT_OPEN_TASKS_TAIL);
    sql
}

pub const INSERT_TIMER: &str = "INSERT INTO timers (id, instance_id, tenant, state, kind, task_id, fire_us) VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const DELETE_TIMERS_OF_INSTANCE: &str = "DELETE FROM timers WHERE instance_id = $1";
pub const DELETE_TIMER: &str = "DELETE FROM timers WHERE id = $1";

pub const INSERT_EVENT: &str = "INSERT INTO events (instance_id, seq, actor, kind, body, hash, prev_hash) VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const SELECT_EVENTS: &str = "SELECT instance_id, seq, actor, kind, body, hash, prev_hash FROM events WHERE instance_id = $1 ORDER BY seq";

macro_rules! document_columns {
    () => {
        "id, instance_id, tenant, template, definition, definition_version, content_type, \
     register, number, content, sha256, data_sha256, created_us"
    };
}
pub const INSERT_DOCUMENT: &str = concat!(
    "INSERT INTO documents (",
    document_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
);
pub const SELECT_DOCUMENT: &str = concat!(
    "SELECT ",
    document_columns!(),
    " FROM documents WHERE id = $1"
);
pub const SELECT_DOCUMENTS: &str = concat!(
    "SELECT ",
    document_columns!(),
    " FROM documents WHERE instance_id = $1 ORDER BY created_us, id"
);

pub const INSERT_TOKEN: &str = "INSERT INTO tokens (hash, user_name, tenant, roles, created_us, expires_us, kind) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const SELECT_TOKEN: &str =
    "SELECT user_name, tenant, roles, expires_us, revoked_us, kind FROM tokens WHERE hash = $1";
pub const COUNT_TOKENS: &str = "SELECT COUNT(*) FROM tokens";

pub const SELECT_REGISTERS: &str =
    "SELECT register, last FROM registers WHERE tenant = $1 AND year = $2";
/// `$4` (the previous value, 0) is bound for symmetry with [`ADVANCE_REGISTER`] and unused.
pub const INSERT_REGISTER: &str =
    "INSERT INTO registers (tenant, register, year, last) SELECT $1, $2, $3, $5 WHERE $4 = 0";
pub const ADVANCE_REGISTER: &str = "UPDATE registers SET last = $5 WHERE tenant = $1 AND register = $2 AND year = $3 AND last = $4";

/// Leases a batch of due timers. SQLite has one writer at a time, so a plain UPDATE is enough.
pub const CLAIM_TIMERS_SQLITE: &str = "UPDATE timers SET lease_until_us = $1, leased_by = $2 WHERE id IN \
     (SELECT id FROM timers WHERE fire_us <= $3 AND (lease_until_us IS NULL OR lease_until_us < $3) \
      ORDER BY fire_us LIMIT $4) \
     RETURNING id, instance_id, tenant, state, kind, task_id, fire_us";
/// Leases a batch of due timers; workers in other processes skip the rows being leased.
pub const CLAIM_TIMERS_POSTGRES: &str = "UPDATE timers SET lease_until_us = $1, leased_by = $2 WHERE id IN \
     (SELECT id FROM timers WHERE fire_us <= $3 AND (lease_until_us IS NULL OR lease_until_us < $3) \
      ORDER BY fire_us LIMIT $4 FOR UPDATE SKIP LOCKED) \
     RETURNING id, instance_id, tenant, state, kind, task_id, fire_us";
pub const NEXT_TIMER: &str = "SELECT MIN(fire_us) FROM timers";
/// Run by the SQLite backend at start-up: one process owns a SQLite file, so leases left by a
/// crashed run belong to nobody and their timers are due at once.
pub const RELEASE_LEASES: &str =
    "UPDATE timers SET lease_until_us = NULL, leased_by = NULL WHERE lease_until_us IS NOT NULL";
/// The instances of the timers a worker has just leased, in one read.
pub const SELECT_LEASED_INSTANCES: &str = concat!(
    "SELECT ",
    instance_columns!(),
    " FROM instances WHERE id IN (SELECT instance_id FROM timers WHERE leased_by = $1 AND lease_until_us = $2)"
);

/// A workflow's schedules in one tenant, replaced when the version it runs there changes.
pub const DELETE_SCHEDULES: &str = "DELETE FROM schedules WHERE definition = $1 AND tenant = $2";
pub const INSERT_SCHEDULE: &str = "INSERT INTO schedules (definition, name, version, tenant, next_us) VALUES ($1, $2, $3, $4, $5)";
pub const SELECT_DUE_SCHEDULES: &str = "SELECT definition, name, version, tenant, next_us FROM schedules \
     WHERE next_us <= $1 ORDER BY next_us LIMIT $2";
/// Moves a schedule to its next occurrence; fails (0 rows) if another worker already did.
pub const ADVANCE_SCHEDULE: &str = "UPDATE schedules SET next_us = $3 \
     WHERE definition = $1 AND name = $2 AND next_us = $4 AND tenant = $5";
/// The schedules of a workflow, in whichever tenant they run.
pub const SELECT_SCHEDULES_OF: &str = "SELECT definition, name, version, tenant, next_us FROM schedules \
     WHERE definition = $1 ORDER BY tenant, name";

/// A tenant takes a shared workflow up: its schedules run there.
pub const INSERT_ADOPTION: &str = "INSERT INTO tenant_workflows (tenant, definition, adopted_us) VALUES ($1, $2, $3) \
     ON CONFLICT (tenant, definition) DO NOTHING";
pub const DELETE_ADOPTION: &str =
    "DELETE FROM tenant_workflows WHERE tenant = $1 AND definition = $2";
pub const SELECT_ADOPTERS: &str =
    "SELECT tenant FROM tenant_workflows WHERE definition = $1 ORDER BY tenant";
pub const SELECT_ADOPTIONS: &str =
    "SELECT definition FROM tenant_workflows WHERE tenant = $1 ORDER BY definition";

/// `procedo tenant add`: registers a tenant, or renames it.
pub const UPSERT_TENANT: &str = "INSERT INTO tenants (id, name, kind, created_us) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind";
/// The shipped registry: adds a tenant, or names one carried forward under its bare id;
/// never overwrites what an administrator set (1 row: this call registered or named it).
pub const SEED_TENANT: &str = "INSERT INTO tenants (id, name, kind, created_us) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind WHERE tenants.name = tenants.id";
pub const SELECT_TENANTS: &str = "SELECT id, name, kind FROM tenants ORDER BY id";
pub const SELECT_TENANT: &str = "SELECT id, name, kind FROM tenants WHERE id = $1";
pub const INSERT_HOLIDAY_IF_ABSENT: &str = "INSERT INTO tenant_holidays (tenant, month, day, name) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (tenant, month, day) DO NOTHING";
/// Relating a pair again replaces its scope and dates.
pub const UPSERT_RELATION: &str = "INSERT INTO tenant_relations (provider, client, scope, valid_from, valid_until, created_us) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (provider, client) DO UPDATE SET scope = excluded.scope, \
     valid_from = excluded.valid_from, valid_until = excluded.valid_until, created_us = excluded.created_us, \
     granted_by = NULL";
/// A relation granted by a case (`relation:`): over none, over one an administrator recorded,
/// over the same case's, or over one that ended before this one starts; otherwise nothing is
/// written and the step's check fails (another convenzione holds it).
pub const GRANT_RELATION: &str = "INSERT INTO tenant_relations (provider, client, scope, valid_from, valid_until, created_us, granted_by) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (provider, client) DO UPDATE SET scope = excluded.scope, \
     valid_from = excluded.valid_from, valid_until = excluded.valid_until, created_us = excluded.created_us, \
     granted_by = excluded.granted_by \
     WHERE tenant_relations.granted_by IS NULL OR tenant_relations.granted_by = excluded.granted_by \
     OR tenant_relations.valid_until < excluded.valid_from";
/// Ends a relation on a day: it covers no day after it (an earlier end stays).
pub const END_RELATION: &str = "UPDATE tenant_relations SET valid_until = $3 \
     WHERE provider = $1 AND client = $2 AND granted_by = $4 AND (valid_until IS NULL OR valid_until > $3)";
pub const SELECT_RELATION: &str = "SELECT provider, client, scope, valid_from, valid_until, granted_by FROM tenant_relations \
     WHERE provider = $1 AND client = $2";
pub const SELECT_RELATIONS: &str = "SELECT provider, client, scope, valid_from, valid_until, granted_by FROM tenant_relations \
     ORDER BY provider, client";

/// An award recorded in the register of outgoing contractors (art. 49; `rotation:`), after
/// the latest award of its line (`$10`: the nil id, for the first). Two awards following the
/// same one violate `rotation_register_chain`: the later lost a race and is decided again.
pub const INSERT_ROTATION: &str = "INSERT INTO rotation_register (id, authority, category, band, operator, operator_name, tenant, instance_id, recorded_us, previous) \
     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, COALESCE((SELECT id FROM rotation_register \
     WHERE authority = $2 AND category = $3 AND band = $4 ORDER BY recorded_us DESC, id DESC LIMIT 1), $10)";
/// The same award, written only over the register line the transition read: the latest row of
/// the authority, category and band must still be `$10` (`NULL`: none), and the award follows
/// it (`$11`: `$10`, or the nil id). Two awards decided at once on the same line cannot both
/// pass the rotation check: the later loses the race (no row written, or on PostgreSQL the
/// chain's unique key once the first commits), reads the register again and is checked
/// against the award that won.
pub const INSERT_ROTATION_OVER: &str = "INSERT INTO rotation_register (id, authority, category, band, operator, operator_name, tenant, instance_id, recorded_us, previous) \
     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $11 WHERE (SELECT id FROM rotation_register \
     WHERE authority = $2 AND category = $3 AND band = $4 ORDER BY recorded_us DESC, id DESC LIMIT 1) IS NOT DISTINCT FROM $10";
/// A contracting authority's register, oldest first: the last row of a category and band
/// names its outgoing contractor.
pub const SELECT_ROTATION: &str = "SELECT id, category, band, operator, operator_name, instance_id, recorded_us FROM rotation_register \
     WHERE authority = $1 ORDER BY recorded_us, id";

/// Who completed which task states of an instance (segregation of duties), oldest first: the
/// official who started it as `start`, its own task states by name, and those of its children
/// as `WORKFLOW.STATE` (the lot's award proposal, seen from the tender).
pub const SELECT_COMPLETERS: &str = "SELECT state, completed_by FROM ( \
     SELECT 'start' AS state, actor AS completed_by, 0 AS at FROM events WHERE instance_id = $1 AND seq = 1 \
     UNION ALL SELECT state, completed_by, closed_us AS at FROM tasks \
     WHERE instance_id = $1 AND status = 'completed' AND completed_by IS NOT NULL \
     UNION ALL SELECT t.definition || '.' || t.state, t.completed_by, t.closed_us FROM tasks t \
     JOIN instances i ON i.id = t.instance_id \
     WHERE i.parent_id = $1 AND t.status = 'completed' AND t.completed_by IS NOT NULL) AS c ORDER BY at";
/// The roles a named official of a tenant holds: as a user who signs in, and on valid API tokens.
pub const SELECT_HOLDER_ROLES: &str = "SELECT roles FROM users WHERE user_name = $1 AND tenant = $2 AND disabled_us IS NULL \
     UNION ALL SELECT roles FROM tokens WHERE user_name = $1 AND tenant = $2 AND kind = 'api' \
     AND revoked_us IS NULL AND (expires_us IS NULL OR expires_us > $3)";
pub const SELECT_OPEN_TASKS_IN_STATE: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks WHERE status = 'open' AND tenant = $1 AND definition = $2 AND state = $3 ORDER BY created_us LIMIT $4"
);
/// Changes an open task's deadline bookkeeping (pause and resume of its SLA).
pub const UPDATE_TASK_SLA: &str = "UPDATE tasks SET due_us = $1, paused_us = $2, pause_reason = $3, due_derivation = $4 \
     WHERE id = $5 AND status = 'open'";
pub const SELECT_TENANT_HOLIDAYS: &str =
    "SELECT month, day, name FROM tenant_holidays WHERE tenant = $1 ORDER BY month, day";
pub const DELETE_TENANT_HOLIDAYS: &str = "DELETE FROM tenant_holidays WHERE tenant = $1";
pub const INSERT_TENANT_HOLIDAY: &str =
    "INSERT INTO tenant_holidays (tenant, month, day, name) VALUES ($1, $2, $3, $4)";
/// Tokens are listed by an id made of the first 16 hex digits of their hash: enough to name
/// one, useless to authenticate.
pub const SELECT_TOKENS: &str = "SELECT substr(hash, 1, 16) AS id, user_name, tenant, roles, expires_us, revoked_us, kind, created_us \
     FROM tokens WHERE ($1 IS NULL OR tenant = $1) ORDER BY created_us";
pub const REVOKE_TOKEN: &str =
    "UPDATE tokens SET revoked_us = $1 WHERE substr(hash, 1, 16) = $2 AND revoked_us IS NULL";
/// Disabling a user, or setting their password, ends their web sessions at once.
pub const REVOKE_SESSIONS_OF_USER: &str = "UPDATE tokens SET revoked_us = $1 \
     WHERE user_name = $2 AND kind = 'session' AND revoked_us IS NULL";

/// Setting a password creates the user or replaces their tenant, roles and password, and
/// enables them again.
pub const UPSERT_USER: &str = "INSERT INTO users (user_name, tenant, roles, password_hash, created_us) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_name) DO UPDATE SET tenant = excluded.tenant, \
     roles = excluded.roles, password_hash = excluded.password_hash, disabled_us = NULL";
pub const SELECT_USER: &str =
    "SELECT user_name, tenant, roles, password_hash, disabled_us FROM users WHERE user_name = $1";
pub const SELECT_USERS: &str = "SELECT user_name, tenant, roles, password_hash, disabled_us FROM users \
     WHERE ($1 IS NULL OR tenant = $1) ORDER BY tenant, user_name";
pub const DISABLE_USER: &str =
    "UPDATE users SET disabled_us = $1 WHERE user_name = $2 AND disabled_us IS NULL";

pub const SELECT_POOLS: &str =
    "SELECT pool, key, capacity, used, next_seq FROM pools WHERE tenant = $1";
pub const SELECT_POOL_WAITERS: &str = "SELECT pool, key, seq, instance_id FROM pool_waiters WHERE tenant = $1 ORDER BY pool, key, seq";
/// `$7`, `$8` (the previous counters) are bound for symmetry with [`ADVANCE_POOL`] and unused.
pub const INSERT_POOL: &str = "INSERT INTO pools (tenant, pool, key, capacity, used, next_seq) \
     SELECT $1, $2, $3, $4, $5, $6 WHERE $7 = $7 AND $8 = $8";
/// Moves a pool's counters only from the values the transition saw.
pub const ADVANCE_POOL: &str = "UPDATE pools SET used = $5, next_seq = $6 \
     WHERE tenant = $1 AND pool = $2 AND key = $3 AND capacity = $4 AND used = $7 AND next_seq = $8";
pub const INSERT_POOL_WAITER: &str =
    "INSERT INTO pool_waiters (tenant, pool, key, seq, instance_id) VALUES ($1, $2, $3, $4, $5)";
pub const DELETE_POOL_WAITER: &str =
    "DELETE FROM pool_waiters WHERE tenant = $1 AND pool = $2 AND key = $3 AND instance_id = $4";

/// The failures of an account and of a client address within the forgetting window (`$3`:
/// rows older than it count as none).
pub const SELECT_SIGN_IN_FAILURES: &str = "SELECT subject, failures, last_us FROM sign_in_failures \
     WHERE subject IN ($1, $2) AND last_us >= $3";
/// Charges an attempt while no delay applies yet: counts it, starting again from one when the
/// last failure is older than the forgetting window (`$3`), but only while the count is below
/// `$4` (the free attempts), so that a burst of concurrent attempts cannot all pass as free.
pub const CHARGE_SIGN_IN: &str = "INSERT INTO sign_in_failures (subject, failures, last_us) VALUES ($1, 1, $2) \
     ON CONFLICT (subject) DO UPDATE SET last_us = excluded.last_us, failures = CASE \
     WHEN sign_in_failures.last_us < $3 THEN 1 ELSE sign_in_failures.failures + 1 END \
     WHERE sign_in_failures.last_us < $3 OR sign_in_failures.failures < $4";
/// Charges an attempt once delays apply: only from the count the server saw (`$3`), so that of
/// concurrent attempts, on any server, exactly one takes the slot the delay opened.
pub const CHARGE_SIGN_IN_FROM: &str = "UPDATE sign_in_failures SET failures = failures + 1, last_us = $2 WHERE subject = $1 AND failures = $3";
/// A successful sign-in forgets the account's failures...
pub const CLEAR_SIGN_IN_FAILURES: &str = "DELETE FROM sign_in_failures WHERE subject = $1";
/// ...and gives the address back the attempt it was charged (not more: an attacker who owns an
/// account must not wipe the address's record by signing in to it).
pub const REFUND_SIGN_IN: &str =
    "UPDATE sign_in_failures SET failures = failures - 1 WHERE subject = $1 AND failures > 0";
pub const EXPIRE_SIGN_IN_FAILURES: &str = "DELETE FROM sign_in_failures WHERE last_us < $1";
// Tamper evidence (migration 0009): the instance ledger, the deploy chain, checkpoints, and
// the reads of verification. Verification reads instances in batches by id and, for each
// batch, every row keyed by an instance id in the batch's range (`$1` < id <= `$2`, open at
// either end when NULL), so rows whose instance is gone are seen too; with a tenant (`$3`),
// only that tenant's.

/// Enters a new instance in the ledger with the highest number so far plus one (see the
/// migration: numbers have no gaps, concurrent entries may share one).
pub const INSERT_LEDGER: &str = "INSERT INTO instance_ledger (n, instance_id, tenant, created_us) \
     SELECT COALESCE(MAX(n), 0) + 1, $1, $2, $3 FROM instance_ledger";
pub const SELECT_LAST_DEPLOY: &str = "SELECT seq, hash FROM deploys ORDER BY seq DESC LIMIT 1";
pub const INSERT_DEPLOY: &str = "INSERT INTO deploys (seq, definition, version, body, hash, prev_hash) \
     VALUES ($1, $2, $3, $4, $5, $6)";
pub const SELECT_DEPLOYS: &str =
    "SELECT seq, definition, version, body, hash, prev_hash FROM deploys ORDER BY seq";
/// The relation chain (`relation_records`, migration 0020): its last link, a new one, all.
pub const SELECT_LAST_RELATION_RECORD: &str =
    "SELECT seq, hash FROM relation_records ORDER BY seq DESC LIMIT 1";
pub const INSERT_RELATION_RECORD: &str = "INSERT INTO relation_records (seq, provider, client, body, hash, prev_hash) \
     VALUES ($1, $2, $3, $4, $5, $6)";
pub const SELECT_RELATION_RECORDS: &str =
    "SELECT seq, provider, client, body, hash, prev_hash FROM relation_records ORDER BY seq";
/// The relations an administrator recorded (`granted_by` empty) that a tenant provides or is
/// served by (`NULL`: every one): a Comune's auditor is told of a relation that opens its
/// cases to another body. Each is matched with the latest record of its pair.
pub const VERIFY_RECORDED_RELATIONS: &str = "SELECT provider, client, scope, valid_from, valid_until, granted_by FROM tenant_relations \
     WHERE granted_by IS NULL AND ($1 IS NULL OR provider = $1 OR client = $1) ORDER BY provider, client";
/// The relations administrators recorded before migration 0020, which the upgrade enters in
/// the relation chain in the order they were made.
pub const SELECT_UNRECORDED_RELATIONS: &str = "SELECT provider, client, scope, valid_from, valid_until, granted_by, created_us \
     FROM tenant_relations WHERE granted_by IS NULL ORDER BY created_us, provider, client";
pub const SELECT_META: &str = "SELECT value FROM procedo_meta WHERE key = $1";
pub const DELETE_META: &str = "DELETE FROM procedo_meta WHERE key = $1";
/// Definitions without a deploy record (deployed before migration 0009), oldest first.
pub const SELECT_UNRECORDED_DEFINITIONS: &str = "SELECT d.id, d.version, d.package, d.deployed_by, d.deployed_us \
     FROM definitions d WHERE NOT EXISTS (SELECT 1 FROM deploys p WHERE p.definition = d.id AND p.version = d.version) \
     ORDER BY d.deployed_us, d.id, d.version";
pub const SELECT_DEFINITION_PACKAGES: &str =
    "SELECT id, version, package, owner FROM definitions ORDER BY id, version";

pub const VERIFY_INSTANCES: &str = concat!(
    "SELECT ",
    instance_columns!(),
    " FROM instances WHERE ($1 IS NULL OR id > $1) AND ($2 IS NULL OR tenant = $2) ORDER BY id LIMIT $3"
);
pub const VERIFY_EVENTS: &str = "SELECT instance_id, seq, actor, kind, body, hash, prev_hash FROM events \
     WHERE ($1 IS NULL OR instance_id > $1) AND ($2 IS NULL OR instance_id <= $2) \
       AND ($3 IS NULL OR instance_id IN (SELECT id FROM instances WHERE tenant = $3)) \
     ORDER BY instance_id, seq";
pub const VERIFY_TASKS: &str = "SELECT id, instance_id, tenant, status, completed_action, completed_by FROM tasks \
     WHERE ($1 IS NULL OR instance_id > $1) AND ($2 IS NULL OR instance_id <= $2) \
       AND ($3 IS NULL OR instance_id IN (SELECT id FROM instances WHERE tenant = $3)) \
     ORDER BY instance_id, id";
pub const VERIFY_DOCUMENTS: &str = concat!(
    "SELECT ",
    document_columns!(),
    " FROM documents WHERE ($1 IS NULL OR instance_id > $1) AND ($2 IS NULL OR instance_id <= $2) \
       AND ($3 IS NULL OR tenant = $3 OR instance_id IN (SELECT id FROM instances WHERE tenant = $3)) \
     ORDER BY instance_id, created_us, id"
);
pub const VERIFY_LEDGER: &str = "SELECT n, instance_id, tenant FROM instance_ledger \
     WHERE ($1 IS NULL OR instance_id > $1) AND ($2 IS NULL OR instance_id <= $2) AND ($3 IS NULL OR tenant = $3) \
     ORDER BY instance_id";
/// Rows, lowest and highest number of the ledger.
pub const LEDGER_SUMMARY: &str = "SELECT COUNT(*) AS entries, \
     COALESCE(MIN(n), 0) AS lowest, COALESCE(MAX(n), 0) AS highest FROM instance_ledger";
/// Numbers missing from the ledger (each the one before an entry whose predecessor is gone).
pub const LEDGER_GAPS: &str = "SELECT DISTINCT l.n - 1 AS missing FROM instance_ledger l WHERE l.n > 1 \
     AND NOT EXISTS (SELECT 1 FROM instance_ledger p WHERE p.n = l.n - 1) ORDER BY missing LIMIT 100";
pub const VERIFY_REGISTERS: &str =
    "SELECT tenant, register, year, last FROM registers WHERE ($1 IS NULL OR tenant = $1)";
/// The register of outgoing contractors as verification reads it: every row of a tenant's
/// cases (`NULL`: every tenant), each to be matched with the `rotation_recorded` note sealed
/// in its case's history.
pub const VERIFY_ROTATION: &str = "SELECT id, authority, category, band, operator, operator_name, tenant, instance_id, recorded_us \
     FROM rotation_register WHERE ($1 IS NULL OR tenant = $1) ORDER BY recorded_us, id";
/// The relations a case granted (`granted_by` set), of a provider (`NULL`: every one), each to
/// be matched with the `relation_granted`/`relation_ended` notes of the case that granted it.
pub const VERIFY_RELATIONS: &str = "SELECT provider, client, scope, valid_from, valid_until, granted_by FROM tenant_relations \
     WHERE granted_by IS NOT NULL AND ($1 IS NULL OR provider = $1) ORDER BY provider, client";
/// Makes a verification's reads one consistent picture on PostgreSQL (SQLite's deferred
/// transaction reads one snapshot from its first read on).
pub const SNAPSHOT_POSTGRES: &str = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY";

pub const INSERT_CHECKPOINT: &str = "INSERT INTO checkpoints (id, created_us, instances, root, header, signature, public_key, heads) \
     SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3, $4, $5, $6, $7 FROM checkpoints RETURNING id";
pub const SELECT_CHECKPOINTS: &str = "SELECT id, created_us, instances, root, header, signature, public_key \
     FROM checkpoints ORDER BY id";
pub const SELECT_CHECKPOINT: &str = "SELECT id, created_us, instances, root, header, signature, public_key, heads \
     FROM checkpoints WHERE id = $1";

/// A consistent copy of a live SQLite database into a new file (`$1`, its path).
pub const BACKUP_SQLITE: &str = "VACUUM INTO $1";

// Attachments (migration 0012). An upload writes its chunks first, one statement each, outside
// any transaction (a slow upload holds no lock); `INSERT_FILE_BLOB` then records the content
// unless the tenant has it already, in which case the new chunks are dropped.
pub const INSERT_FILE_CHUNK: &str =
    "INSERT INTO file_chunks (upload_id, n, data) VALUES ($1, $2, $3)";
pub const DELETE_FILE_CHUNKS: &str = "DELETE FROM file_chunks WHERE upload_id = $1";
pub const INSERT_FILE_BLOB: &str = "INSERT INTO file_blobs (tenant, sha256, size, upload_id, chunks, created_us) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant, sha256) DO NOTHING";
pub const INSERT_FILE: &str = "INSERT INTO files (id, tenant, sha256, size, content_type, name, uploaded_by, created_us) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
pub const SELECT_FILE: &str = "SELECT f.id, f.tenant, f.sha256, f.size, f.content_type, f.name, f.uploaded_by, f.created_us, \
     b.upload_id, b.chunks FROM files f JOIN file_blobs b ON b.tenant = f.tenant AND b.sha256 = f.sha256 WHERE f.id = $1";
pub const SELECT_FILE_CHUNK: &str = "SELECT data FROM file_chunks WHERE upload_id = $1 AND n = $2";
// Service jobs (migration 0011). An answer's write checks the job is still open and held
// under the lock it was loaded with (`lock_seq`), so it is applied once.
macro_rules! job_columns {
    () => {
        "id, instance_id, tenant, definition, state, topic, input, status, attempt, retries, \
     backoff_ms, available_us, locked_by, locked_until_us, lock_seq, message, created_us, closed_us"
    };
}
pub const INSERT_JOB: &str = "INSERT INTO jobs (id, instance_id, tenant, definition, state, topic, input, status, \
     attempt, retries, backoff_ms, available_us, lock_seq, created_us) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13)";
pub const CLOSE_JOB: &str = "UPDATE jobs SET status = $1, message = COALESCE($2, message), closed_us = $3, \
     locked_by = NULL, locked_until_us = NULL WHERE id = $4 AND status = 'open' AND lock_seq = $5";
pub const FAIL_JOB: &str = "UPDATE jobs SET status = $1, attempt = $2, available_us = $3, message = $4, \
     locked_by = NULL, locked_until_us = NULL WHERE id = $5 AND status = 'open' AND lock_seq = $6";
pub const RETRY_INCIDENT: &str = "UPDATE jobs SET status = 'open', attempt = $1, retries = $2, available_us = $3 \
     WHERE id = $4 AND status = 'incident'";
pub const CANCEL_OPEN_JOBS: &str = "UPDATE jobs SET status = 'cancelled', closed_us = $1, locked_by = NULL, \
     locked_until_us = NULL WHERE instance_id = $2 AND status IN ('open', 'incident')";
pub const SELECT_JOB: &str = concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = $1");
pub const SELECT_JOBS_OF_INSTANCE: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM jobs WHERE instance_id = $1 ORDER BY created_us, id"
);
/// Incidents of tenant `$2` (every tenant's when `$1` is 1), oldest first.
pub const SELECT_INCIDENTS: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM jobs WHERE status = 'incident' AND ($1 = 1 OR tenant = $2) ORDER BY created_us, id LIMIT 500"
);
/// Verification's read of the jobs beside a batch of instances (see `VERIFY_TASKS`).
pub const VERIFY_JOBS: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM jobs WHERE ($1 IS NULL OR instance_id > $1) AND ($2 IS NULL OR instance_id <= $2) \
       AND ($3 IS NULL OR instance_id IN (SELECT id FROM instances WHERE tenant = $3)) \
     ORDER BY instance_id, id"
);
pub const COUNT_INCIDENTS: &str = "SELECT COUNT(*) FROM jobs WHERE status = 'incident'";
/// The most topics one fetch may name.
pub const MAX_TOPICS: usize = 32;
/// Locks up to `$6` fetchable jobs of the topics `$7…` for worker `$1` until `$2` (`$3` is
/// now; tenant `$5` only unless `$4` is 1). PostgreSQL skips rows another fetch is locking.
pub fn claim_jobs(topics: usize, postgres: bool) -> String {
    let topics = topics.clamp(1, MAX_TOPICS);
    let mut sql = String::from(
        "UPDATE jobs SET locked_by = $1, locked_until_us = $2, lock_seq = lock_seq + 1 WHERE id IN \
         (SELECT id FROM jobs WHERE status = 'open' AND available_us <= $3 \
         AND (locked_until_us IS NULL OR locked_until_us <= $3) AND ($4 = 1 OR tenant = $5) AND topic IN (",
    );
    for i in 0..topics {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("${}", 7 + i));
    }
    sql.push_str(") ORDER BY available_us LIMIT $6");
    if postgres {
        sql.push_str(" FOR UPDATE SKIP LOCKED");
    }
    sql.push_str(") RETURNING ");
    sql.push_str(job_columns!());
    sql
}

// Notifications (migration 0011): notices written by transitions, expanded after the commit
// into one mail per official (unique per notice and official), sent with retries.
pub const INSERT_NOTICE: &str = "INSERT INTO notices (id, instance_id, tenant, kind, task_id, role, assignee, title, created_us) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
pub const SELECT_PENDING_NOTICES: &str = "SELECT id, instance_id, tenant, kind, task_id, role, assignee, title, created_us \
     FROM notices WHERE expanded_us IS NULL ORDER BY created_us LIMIT $1";
pub const MARK_NOTICE_EXPANDED: &str =
    "UPDATE notices SET expanded_us = $1 WHERE id = $2 AND expanded_us IS NULL";
/// One mail per notice and official: a notice expanded twice (two servers) mails once.
pub const INSERT_MAIL: &str = "INSERT INTO mail_outbox (id, notice_id, user_name, address, subject, body, next_us, created_us) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (notice_id, user_name) DO NOTHING";
pub const SELECT_DUE_MAIL: &str = "SELECT id, address, subject, body, attempts FROM mail_outbox \
     WHERE sent_us IS NULL AND next_us <= $1 ORDER BY next_us LIMIT $2";
pub const MARK_MAIL_SENT: &str = "UPDATE mail_outbox SET sent_us = $1, attempts = attempts + 1 WHERE id = $2 AND sent_us IS NULL";
pub const MARK_MAIL_FAILED: &str = "UPDATE mail_outbox SET attempts = attempts + 1, next_us = $1, last_error = $2 WHERE id = $3 AND sent_us IS NULL";
/// The officials of a tenant who have an address and take mail.
pub const SELECT_MAIL_USERS: &str = "SELECT user_name, roles, email FROM users \
     WHERE tenant = $1 AND disabled_us IS NULL AND email IS NOT NULL AND mail_off = 0";
pub const SET_USER_FULL_NAME: &str = "UPDATE users SET full_name = $1 WHERE user_name = $2";
pub const SELECT_USER_FULL_NAME: &str =
    "SELECT full_name FROM users WHERE user_name = $1 AND tenant = $2 AND disabled_us IS NULL";
pub const SET_USER_EMAIL: &str = "UPDATE users SET email = $1 WHERE user_name = $2";
pub const SET_USER_MAIL_OFF: &str = "UPDATE users SET mail_off = $1 WHERE user_name = $2";
/// The notices of the tasks an official's roles or name reach, newest first (the pages).
pub const SELECT_NOTICES_OF_TENANT: &str = "SELECT id, instance_id, tenant, kind, task_id, role, assignee, title, created_us \
     FROM notices WHERE tenant = $1 ORDER BY created_us DESC LIMIT $2";
