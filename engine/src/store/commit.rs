//! Committing transitions: the one place where the engine's decisions become rows.
//!
//! Every write that could lose a race is checked — an instance against the version it was
//! loaded at, a task against being still open, a timer against being still there, a register
//! or schedule against the value the transition saw — and any failed check rolls the whole
//! transaction back as [`super::StoreError::Conflict`].

/// A checked write must change exactly one row; a unique-key clash on a checked insert means
/// another transition got there first. Both are conflicts, named by `what`.
pub(crate) fn exactly_one<D>(
    result: Result<D, sqlx::Error>,
    rows: impl FnOnce(&D) -> u64,
    what: &'static str,
) -> super::Result<()> {
    match result {
        Ok(done) if rows(&done) == 1 => Ok(()),
        Ok(_) => Err(super::StoreError::Conflict(what)),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(super::StoreError::Conflict(what))
        }
        Err(e) => Err(e.into()),
    }
}

/// Implements `commit` and `commit_all` for one backend (see `sql.rs` for why a macro).
macro_rules! sql_commit {
    ($store:ty) => {
        impl $store {
            pub async fn commit(
                &self,
                transition: &$crate::machine::Transition,
            ) -> $crate::store::Result<()> {
                self.commit_all(std::slice::from_ref(transition)).await
            }

            /// Applies several transitions in one database transaction (a batch of timers).
            pub async fn commit_all(
                &self,
                transitions: &[$crate::machine::Transition],
            ) -> $crate::store::Result<()> {
                use $crate::machine::Effect;
                use $crate::store::StoreError::Conflict;
                use $crate::timefmt::to_db;
                let mut tx = self.pool.begin().await?;
                for transition in transitions {
                    for change in &transition.changes {
                        let i = &change.instance;
                        let (status, detail) = i.status.to_db();
                        match change.expected_version {
                            Some(expected) => {
                                let done = sqlx::query($crate::store::sql::UPDATE_INSTANCE)
                                    .bind(&i.state)
                                    .bind(status)
                                    .bind(detail)
                                    .bind(sqlx::types::Json(&i.variables))
                                    .bind(i.children_pending)
                                    .bind(i.version)
                                    .bind(i.seq)
                                    .bind(&i.last_hash)
                                    .bind(to_db(i.updated_at))
                                    .bind(i.id)
                                    .bind(expected)
                                    .execute(&mut *tx)
                                    .await?;
                                if done.rows_affected() != 1 {
                                    return Err(Conflict(
                                        "the instance was changed by someone else",
                                    ));
                                }
                            }
                            None => {
                                sqlx::query($crate::store::sql::INSERT_INSTANCE)
                                    .bind(i.id)
                                    .bind(&i.tenant)
                                    .bind(i.on_behalf_of.as_deref())
                                    .bind(&i.definition)
                                    .bind(i.definition_version)
                                    .bind(&i.state)
                                    .bind(status)
                                    .bind(detail)
                                    .bind(sqlx::types::Json(&i.variables))
                                    .bind(i.parent.as_ref().map(|p| p.instance))
                                    .bind(i.parent.as_ref().map(|p| p.index))
                                    .bind(i.children_pending)
                                    .bind(i.version)
                                    .bind(i.seq)
                                    .bind(&i.last_hash)
                                    .bind(to_db(i.created_at))
                                    .bind(to_db(i.updated_at))
                                    .execute(&mut *tx)
                                    .await?;
                            }
                        }
                    }
                    for effect in &transition.effects {
                        match effect {
                            Effect::OpenTask(t) => {
                                let (status, action, by) = t.status.to_db();
                                sqlx::query($crate::store::sql::INSERT_TASK)
                                    .bind(t.id)
                                    .bind(t.instance)
                                    .bind(&t.tenant)
                                    .bind(&t.definition)
                                    .bind(&t.state)
                                    .bind(&t.role)
                                    .bind(t.assignee.as_deref())
                                    .bind(t.due_at.map(to_db))
                                    .bind(sqlx::types::Json(&t.actions))
                                    .bind(status)
                                    .bind(action)
                                    .bind(by)
                                    .bind(to_db(t.created_at))
                                    .bind(t.closed_at.map(to_db))
                                    .bind(t.due_derivation.as_ref().map(sqlx::types::Json))
                                    .bind(t.paused_at.map(to_db))
                                    .bind(t.pause_reason.as_deref())
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            Effect::CloseTask { task, status, at } => {
                                let (status, action, by) = status.to_db();
                                let done = sqlx::query($crate::store::sql::CLOSE_TASK)
                                    .bind(status)
                                    .bind(action)
                                    .bind(by)
                                    .bind(to_db(*at))
                                    .bind(task)
                                    .execute(&mut *tx)
                                    .await?;
                                if done.rows_affected() != 1 {
                                    return Err(Conflict("the task is no longer open"));
                                }
                            }
                            Effect::CancelOpenTasks { instance, at } => {
                                sqlx::query($crate::store::sql::CANCEL_OPEN_TASKS)
                                    .bind(to_db(*at))
                                    .bind(instance)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            Effect::ReassignTask { task, role } => {
                                sqlx::query($crate::store::sql::REASSIGN_TASK)
                                    .bind(role)
                                    .bind(task)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            Effect::SetTimer(t) => {
                                let (kind, task) = t.kind.to_db();
                                sqlx::query($crate::store::sql::INSERT_TIMER)
                                    .bind(t.id)
                                    .bind(t.instance)
                                    .bind(&t.tenant)
                                    .bind(&t.state)
                                    .bind(kind)
                                    .bind(task)
                                    .bind(to_db(t.fire_at))
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            Effect::ClearTimers { instance } => {
                                sqlx::query($crate::store::sql::DELETE_TIMERS_OF_INSTANCE)
                                    .bind(instance)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            Effect::DeleteTimer { timer } => {
                                let done = sqlx::query($crate::store::sql::DELETE_TIMER)
                                    .bind(timer)
                                    .execute(&mut *tx)
                                    .await?;
                                if done.rows_affected() != 1 {
                                    return Err(Conflict("the timer has already fired"));
                                }
                            }
                            Effect::IssueDocument(d) => {
                                sqlx::query($crate::store::sql::INSERT_DOCUMENT)
                                    .bind(d.id)
                                    .bind(d.instance)
                                    .bind(&d.tenant)
                                    .bind(&d.template)
                                    .bind(&d.definition)
                                    .bind(d.definition_version)
                                    .bind(&d.content_type)
                                    .bind(d.register.as_deref())
                                    .bind(d.number.as_deref())
                                    .bind(&d.content)
                                    .bind(&d.sha256)
                                    .bind(&d.data_sha256)
                                    .bind(to_db(d.created_at))
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            Effect::AdvanceRegister(n) => {
                                let statement = if n.previous == 0 {
                                    $crate::store::sql::INSERT_REGISTER
                                } else {
                                    $crate::store::sql::ADVANCE_REGISTER
                                };
                                let done = sqlx::query(statement)
                                    .bind(&n.tenant)
                                    .bind(&n.register)
                                    .bind(i64::from(n.year))
                                    .bind(n.previous)
                                    .bind(n.seq)
                                    .execute(&mut *tx)
                                    .await;
                                $crate::store::commit::exactly_one(
                                    done,
                                    |d| d.rows_affected(),
                                    "the register was numbered by another transition",
                                )?;
                            }
                            Effect::UpdateTaskAssignment {
                                task,
                                assignee,
                                role,
                            } => {
                                let done = sqlx::query($crate::store::sql::ASSIGN_TASK)
                                    .bind(assignee.as_deref())
                                    .bind(role)
                                    .bind(task)
                                    .execute(&mut *tx)
                                    .await?;
                                if done.rows_affected() != 1 {
                                    return Err(Conflict("the task is no longer open"));
                                }
                            }
                            Effect::UpdateTaskSla {
                                task,
                                due_at,
                                paused_at,
                                reason,
                                derivation,
                            } => {
                                let done = sqlx::query($crate::store::sql::UPDATE_TASK_SLA)
                                    .bind(due_at.map(to_db))
                                    .bind(paused_at.map(to_db))
                                    .bind(reason.as_deref())
                                    .bind(derivation.as_ref().map(sqlx::types::Json))
                                    .bind(task)
                                    .execute(&mut *tx)
                                    .await?;
                                if done.rows_affected() != 1 {
                                    return Err(Conflict("the task is no longer open"));
                                }
                            }
                            Effect::AdvanceSchedule {
                                definition,
                                name,
                                from,
                                to,
                            } => {
                                let done = sqlx::query($crate::store::sql::ADVANCE_SCHEDULE)
                                    .bind(definition)
                                    .bind(name)
                                    .bind(to_db(*to))
                                    .bind(to_db(*from))
                                    .execute(&mut *tx)
                                    .await?;
                                if done.rows_affected() != 1 {
                                    return Err(Conflict("the schedule already fired"));
                                }
                            }
                            Effect::AdvancePool(c) => {
                                let (from_used, from_seq) = c.from.unwrap_or((0, 0));
                                let statement = if c.from.is_some() {
                                    $crate::store::sql::ADVANCE_POOL
                                } else {
                                    $crate::store::sql::INSERT_POOL
                                };
                                let done = sqlx::query(statement)
                                    .bind(&c.tenant)
                                    .bind(&c.pool)
                                    .bind(&c.key)
                                    .bind(c.capacity)
                                    .bind(c.to.0)
                                    .bind(c.to.1)
                                    .bind(from_used)
                                    .bind(from_seq)
                                    .execute(&mut *tx)
                                    .await;
                                $crate::store::commit::exactly_one(
                                    done,
                                    |d| d.rows_affected(),
                                    "the pool was changed by another transition",
                                )?;
                            }
                            Effect::Enqueue {
                                tenant,
                                pool,
                                key,
                                seq,
                                instance,
                            } => {
                                sqlx::query($crate::store::sql::INSERT_POOL_WAITER)
                                    .bind(tenant)
                                    .bind(pool)
                                    .bind(key)
                                    .bind(seq)
                                    .bind(instance)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            Effect::Dequeue {
                                tenant,
                                pool,
                                key,
                                instance,
                            } => {
                                let done = sqlx::query($crate::store::sql::DELETE_POOL_WAITER)
                                    .bind(tenant)
                                    .bind(pool)
                                    .bind(key)
                                    .bind(instance)
                                    .execute(&mut *tx)
                                    .await?;
                                if done.rows_affected() != 1 {
                                    return Err(Conflict("the instance is no longer in the line"));
                                }
                            }
                            Effect::AppendEvent(e) => {
                                sqlx::query($crate::store::sql::INSERT_EVENT)
                                    .bind(e.event.instance)
                                    .bind(e.event.seq)
                                    .bind(&e.event.actor)
                                    .bind(&e.event.kind)
                                    .bind(&e.body)
                                    .bind(&e.hash)
                                    .bind(&e.event.prev_hash)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                        }
                    }
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}
pub(crate) use sql_commit;
