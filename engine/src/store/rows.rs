//! Row to record conversions, shared by both backends (see `sql.rs` for why they are macros).
//! Each macro expands to a closure `|row| -> Result<Record>`.

macro_rules! instance {
    () => {
        $crate::store::rows::instance!("")
    };
    ($prefix:literal) => {
        |r| -> $crate::store::Result<$crate::model::Instance> {
            let status: String = r.try_get(concat!($prefix, "status"))?;
            let detail: Option<String> = r.try_get(concat!($prefix, "status_detail"))?;
            let parent: Option<$crate::model::InstanceId> =
                r.try_get(concat!($prefix, "parent_id"))?;
            let sqlx::types::Json(variables) = r.try_get(concat!($prefix, "variables"))?;
            let sqlx::types::Json(pins) = r.try_get(concat!($prefix, "pins"))?;
            Ok($crate::model::Instance {
                id: r.try_get(concat!($prefix, "id"))?,
                tenant: r.try_get(concat!($prefix, "tenant"))?,
                on_behalf_of: r.try_get(concat!($prefix, "on_behalf_of"))?,
                definition: r.try_get(concat!($prefix, "definition"))?,
                definition_version: r.try_get(concat!($prefix, "definition_version"))?,
                state: r.try_get(concat!($prefix, "state"))?,
                status: $crate::model::Status::from_db(&status, detail).ok_or_else(|| {
                    $crate::store::StoreError::Corrupt(format!("instance status `{status}`"))
                })?,
                variables,
                parent: match parent {
                    Some(instance) => Some($crate::model::ParentLink {
                        instance,
                        index: r.try_get(concat!($prefix, "parent_index"))?,
                    }),
                    None => None,
                },
                children_pending: r.try_get(concat!($prefix, "children_pending"))?,
                version: r.try_get(concat!($prefix, "version"))?,
                seq: r.try_get(concat!($prefix, "seq"))?,
                last_hash: r.try_get(concat!($prefix, "last_hash"))?,
                created_at: $crate::timefmt::from_db(r.try_get(concat!($prefix, "created_us"))?),
                updated_at: $crate::timefmt::from_db(r.try_get(concat!($prefix, "updated_us"))?),
                pins,
            })
        }
    };
}

macro_rules! task {
    () => {
        |r| -> $crate::store::Result<$crate::model::Task> {
            let status: String = r.try_get("status")?;
            let sqlx::types::Json(actions) = r.try_get("actions")?;
            Ok($crate::model::Task {
                id: r.try_get("id")?,
                instance: r.try_get("instance_id")?,
                tenant: r.try_get("tenant")?,
                definition: r.try_get("definition")?,
                state: r.try_get("state")?,
                role: r.try_get("role")?,
                assignee: r.try_get("assignee")?,
                due_at: r
                    .try_get::<Option<i64>, _>("due_us")?
                    .map($crate::timefmt::from_db),
                actions,
                status: $crate::model::TaskStatus::from_db(
                    &status,
                    r.try_get("completed_action")?,
                    r.try_get("completed_by")?,
                )
                .ok_or_else(|| {
                    $crate::store::StoreError::Corrupt(format!("task status `{status}`"))
                })?,
                created_at: $crate::timefmt::from_db(r.try_get("created_us")?),
                closed_at: r
                    .try_get::<Option<i64>, _>("closed_us")?
                    .map($crate::timefmt::from_db),
                due_derivation: r
                    .try_get::<Option<sqlx::types::Json<serde_json::Value>>, _>("due_derivation")?
                    .map(|j| j.0),
                paused_at: r
                    .try_get::<Option<i64>, _>("paused_us")?
                    .map($crate::timefmt::from_db),
                pause_reason: r.try_get("pause_reason")?,
            })
        }
    };
}

macro_rules! timer {
    () => {
        |r| -> $crate::store::Result<$crate::model::Timer> {
            let kind: String = r.try_get("kind")?;
            Ok($crate::model::Timer {
                id: r.try_get("id")?,
                instance: r.try_get("instance_id")?,
                tenant: r.try_get("tenant")?,
                state: r.try_get("state")?,
                kind: $crate::model::TimerKind::from_db(&kind, r.try_get("task_id")?).ok_or_else(
                    || $crate::store::StoreError::Corrupt(format!("timer kind `{kind}`")),
                )?,
                fire_at: $crate::timefmt::from_db(r.try_get("fire_us")?),
            })
        }
    };
}

macro_rules! event {
    () => {
        |r| -> $crate::store::Result<$crate::history::StoredEvent> {
            Ok($crate::history::StoredEvent {
                instance: r.try_get("instance_id")?,
                seq: r.try_get("seq")?,
                actor: r.try_get("actor")?,
                kind: r.try_get("kind")?,
                body: r.try_get("body")?,
                hash: r.try_get("hash")?,
                prev_hash: r.try_get("prev_hash")?,
            })
        }
    };
}

macro_rules! document {
    () => {
        |r| -> $crate::store::Result<$crate::documents::Document> {
            Ok($crate::documents::Document {
                id: r.try_get("id")?,
                instance: r.try_get("instance_id")?,
                tenant: r.try_get("tenant")?,
                template: r.try_get("template")?,
                definition: r.try_get("definition")?,
                definition_version: r.try_get("definition_version")?,
                content_type: r.try_get("content_type")?,
                register: r.try_get("register")?,
                number: r.try_get("number")?,
                content: r.try_get("content")?,
                sha256: r.try_get("sha256")?,
                data_sha256: r.try_get("data_sha256")?,
                created_at: $crate::timefmt::from_db(r.try_get("created_us")?),
            })
        }
    };
}

/// Roles are stored comma-joined.
pub(crate) fn roles(joined: &str) -> Vec<String> {
    joined
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

macro_rules! token {
    () => {
        |r| -> $crate::store::Result<$crate::store::TokenRow> {
            Ok($crate::store::TokenRow {
                user: r.try_get("user_name")?,
                tenant: r.try_get("tenant")?,
                roles: $crate::store::rows::roles(r.try_get("roles")?),
                expires_at: r
                    .try_get::<Option<i64>, _>("expires_us")?
                    .map($crate::timefmt::from_db),
                revoked_at: r
                    .try_get::<Option<i64>, _>("revoked_us")?
                    .map($crate::timefmt::from_db),
                session: r.try_get::<&str, _>("kind")? == "session",
            })
        }
    };
}

macro_rules! user {
    () => {
        |r| -> $crate::store::Result<$crate::store::UserRow> {
            Ok($crate::store::UserRow {
                user: r.try_get("user_name")?,
                tenant: r.try_get("tenant")?,
                roles: $crate::store::rows::roles(r.try_get("roles")?),
                password_hash: r.try_get("password_hash")?,
                disabled_at: r
                    .try_get::<Option<i64>, _>("disabled_us")?
                    .map($crate::timefmt::from_db),
            })
        }
    };
}

macro_rules! schedule {
    () => {
        |r| -> $crate::store::Result<$crate::store::ScheduleRow> {
            Ok($crate::store::ScheduleRow {
                definition: r.try_get("definition")?,
                name: r.try_get("name")?,
                version: r.try_get("version")?,
                tenant: r.try_get("tenant")?,
                next_at: $crate::timefmt::from_db(r.try_get("next_us")?),
            })
        }
    };
}

macro_rules! job {
    () => {
        |r| -> $crate::store::Result<$crate::model::Job> {
            let status: String = r.try_get("status")?;
            let sqlx::types::Json(input) = r.try_get("input")?;
            Ok($crate::model::Job {
                id: r.try_get("id")?,
                instance: r.try_get("instance_id")?,
                tenant: r.try_get("tenant")?,
                definition: r.try_get("definition")?,
                state: r.try_get("state")?,
                topic: r.try_get("topic")?,
                input,
                status: $crate::model::JobStatus::from_db(&status).ok_or_else(|| {
                    $crate::store::StoreError::Corrupt(format!("job status `{status}`"))
                })?,
                attempt: r.try_get("attempt")?,
                retries: r.try_get("retries")?,
                backoff_ms: r.try_get("backoff_ms")?,
                available_at: $crate::timefmt::from_db(r.try_get("available_us")?),
                locked_by: r.try_get("locked_by")?,
                locked_until: r
                    .try_get::<Option<i64>, _>("locked_until_us")?
                    .map($crate::timefmt::from_db),
                lock_seq: r.try_get("lock_seq")?,
                message: r.try_get("message")?,
                created_at: $crate::timefmt::from_db(r.try_get("created_us")?),
                closed_at: r
                    .try_get::<Option<i64>, _>("closed_us")?
                    .map($crate::timefmt::from_db),
            })
        }
    };
}

macro_rules! notice {
    () => {
        |r| -> $crate::store::Result<$crate::model::Notice> {
            Ok($crate::model::Notice {
                id: r.try_get("id")?,
                instance: r.try_get("instance_id")?,
                tenant: r.try_get("tenant")?,
                kind: r.try_get("kind")?,
                task: r.try_get("task_id")?,
                role: r.try_get("role")?,
                assignee: r.try_get("assignee")?,
                title: r.try_get("title")?,
                created_at: $crate::timefmt::from_db(r.try_get("created_us")?),
            })
        }
    };
}

pub(crate) use {document, event, instance, job, notice, schedule, task, timer, token, user};
