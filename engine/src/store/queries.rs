//! Reading and maintenance queries of the store, for one backend (see `sql.rs` for why a
//! macro). Writes that decide something go through `commit.rs`.

/// Implements the store methods for one backend. `$row` converts rows; see [`sql`].
macro_rules! sql_store {
    ($store:ty) => {
        impl $store {
            pub async fn insert_definition(
                &self,
                id: &str,
                title: &str,
                package: &$crate::definition::Package,
                by: &str,
                at: chrono::DateTime<chrono::Utc>,
                owner: Option<&str>,
            ) -> $crate::store::Result<i64> {
                // The definition and its deploy record (the package's hash, a link of the
                // deploy chain) are written together. The chain's lock comes first: the next
                // version number is read from the table too, and two deploys at once must not
                // both take it.
                let mut tx = self.pool.begin().await?;
                Self::lock_chain(&mut tx, $crate::store::chain::DEPLOYS).await?;
                let version: i64 = sqlx::query_scalar($crate::store::sql::INSERT_DEFINITION)
                    .bind(id)
                    .bind(title)
                    .bind(sqlx::types::Json(package))
                    .bind(by)
                    .bind($crate::timefmt::to_db(at))
                    .bind(owner)
                    .fetch_one(&mut *tx)
                    .await?;
                Self::append_deploy(
                    &mut tx,
                    id,
                    version,
                    &package.sha256(),
                    (by, at),
                    None,
                    owner,
                )
                .await?;
                tx.commit().await?;
                Ok(version)
            }

            /// One version (`Some`), or what `id` resolves to for `tenant` (`None`).
            /// The version `id` resolves to for `tenant` (`sql::RESOLVE_VERSION`).
            pub async fn resolved_version(
                &self,
                id: &str,
                tenant: Option<&str>,
            ) -> $crate::store::Result<Option<i64>> {
                let row = sqlx::query($crate::store::sql::RESOLVE_VERSION)
                    .bind(id)
                    .bind(tenant)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.try_get::<Option<i64>, _>("version")?)
            }

            pub async fn definition(
                &self,
                id: &str,
                version: Option<i64>,
                tenant: Option<&str>,
            ) -> $crate::store::Result<Option<$crate::store::StoredDefinition>> {
                let row = match version {
                    Some(v) => {
                        sqlx::query($crate::store::sql::SELECT_DEFINITION)
                            .bind(id)
                            .bind(v)
                            .fetch_optional(&self.pool)
                            .await?
                    }
                    None => {
                        sqlx::query($crate::store::sql::RESOLVE_DEFINITION)
                            .bind(id)
                            .bind(tenant)
                            .fetch_optional(&self.pool)
                            .await?
                    }
                };
                row.map(|r| {
                    let sqlx::types::Json(package): sqlx::types::Json<$crate::definition::Package> =
                        r.try_get("package")?;
                    Ok($crate::store::StoredDefinition {
                        version: r.try_get("version")?,
                        package,
                        owner: r.try_get("owner")?,
                    })
                })
                .transpose()
            }

            pub async fn definitions(
                &self,
                tenant: Option<&str>,
            ) -> $crate::store::Result<Vec<$crate::store::DefinitionRow>> {
                let rows = sqlx::query($crate::store::sql::SELECT_DEFINITIONS)
                    .bind(tenant)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::store::DefinitionRow {
                            id: r.try_get("id")?,
                            version: r.try_get("version")?,
                            title: r.try_get("title")?,
                            deployed_by: r.try_get("deployed_by")?,
                            deployed_at: $crate::timefmt::from_db(r.try_get("deployed_us")?),
                            owner: r.try_get("owner")?,
                        })
                    })
                    .collect()
            }

            pub async fn instance_counts(
                &self,
                tenant: Option<&str>,
            ) -> $crate::store::Result<Vec<$crate::store::VersionCount>> {
                let rows = sqlx::query($crate::store::sql::INSTANCE_COUNTS_BY_VERSION)
                    .bind(tenant)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::store::VersionCount {
                            definition: r.try_get("definition")?,
                            version: r.try_get("definition_version")?,
                            active: r.try_get("active")?,
                            ended: r.try_get("ended")?,
                            cancelled: r.try_get("cancelled")?,
                        })
                    })
                    .collect()
            }

            pub async fn instance(
                &self,
                id: uuid::Uuid,
            ) -> $crate::store::Result<Option<$crate::model::Instance>> {
                let row = sqlx::query($crate::store::sql::SELECT_INSTANCE)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref()
                    .map($crate::store::rows::instance!())
                    .transpose()
            }

            pub async fn instances(
                &self,
                tenant: &str,
                filter: &$crate::store::InstanceFilter,
            ) -> $crate::store::Result<Vec<$crate::model::Instance>> {
                let rows = sqlx::query($crate::store::sql::SELECT_INSTANCES)
                    .bind(tenant)
                    .bind(filter.definition.as_deref())
                    .bind(filter.status.as_deref())
                    .bind(filter.state.as_deref())
                    .bind(filter.limit)
                    .bind(filter.offset)
                    .bind(filter.started_after.map($crate::timefmt::to_db))
                    .bind(filter.started_before.map($crate::timefmt::to_db))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::store::rows::instance!()).collect()
            }

            pub async fn children(
                &self,
                parent: uuid::Uuid,
            ) -> $crate::store::Result<Vec<$crate::model::Instance>> {
                let rows = sqlx::query($crate::store::sql::SELECT_CHILDREN)
                    .bind(parent)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::store::rows::instance!()).collect()
            }

            /// A page of the case list and the total it is a page of, in one read transaction
            /// so the two agree.
            pub async fn search_instances(
                &self,
                tenant: &str,
                search: &$crate::store::CaseSearch,
            ) -> $crate::store::Result<(Vec<$crate::model::Instance>, i64)> {
                use $crate::store::CaseOrder;
                use $crate::store::sql;
                let filter = &search.filter;
                let pattern = search.pattern();
                let key = search.key_value();
                let (sql, count) = match (key.is_some(), search.order) {
                    (false, CaseOrder::Newest) => {
                        (sql::SEARCH_INSTANCES_NEWEST, sql::COUNT_INSTANCES)
                    }
                    (false, CaseOrder::Oldest) => {
                        (sql::SEARCH_INSTANCES_OLDEST, sql::COUNT_INSTANCES)
                    }
                    (false, CaseOrder::Updated) => {
                        (sql::SEARCH_INSTANCES_UPDATED, sql::COUNT_INSTANCES)
                    }
                    (true, CaseOrder::Newest) => {
                        (sql::KEYED_INSTANCES_NEWEST, sql::COUNT_KEYED_INSTANCES)
                    }
                    (true, CaseOrder::Oldest) => {
                        (sql::KEYED_INSTANCES_OLDEST, sql::COUNT_KEYED_INSTANCES)
                    }
                    (true, CaseOrder::Updated) => {
                        (sql::KEYED_INSTANCES_UPDATED, sql::COUNT_KEYED_INSTANCES)
                    }
                };
                let mut tx = self.pool.begin().await?;
                let rows = sqlx::query(sql)
                    .bind(tenant)
                    .bind(filter.definition.as_deref())
                    .bind(filter.status.as_deref())
                    .bind(filter.state.as_deref())
                    .bind(filter.limit)
                    .bind(filter.offset)
                    .bind(filter.started_after.map($crate::timefmt::to_db))
                    .bind(filter.started_before.map($crate::timefmt::to_db))
                    .bind(pattern.as_deref())
                    .bind(key.as_deref())
                    .fetch_all(&mut *tx)
                    .await?;
                let total: i64 = sqlx::query_scalar(count)
                    .bind(tenant)
                    .bind(filter.definition.as_deref())
                    .bind(filter.status.as_deref())
                    .bind(filter.state.as_deref())
                    .bind(filter.limit)
                    .bind(filter.offset)
                    .bind(filter.started_after.map($crate::timefmt::to_db))
                    .bind(filter.started_before.map($crate::timefmt::to_db))
                    .bind(pattern.as_deref())
                    .bind(key.as_deref())
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                let list = rows
                    .iter()
                    .map($crate::store::rows::instance!())
                    .collect::<$crate::store::Result<Vec<_>>>()?;
                Ok((list, total))
            }

            pub async fn task(
                &self,
                id: uuid::Uuid,
            ) -> $crate::store::Result<Option<$crate::model::Task>> {
                let row = sqlx::query($crate::store::sql::SELECT_TASK)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map($crate::store::rows::task!()).transpose()
            }

            pub async fn task_with_instance(
                &self,
                id: uuid::Uuid,
            ) -> $crate::store::Result<Option<($crate::model::Task, $crate::model::Instance)>> {
                let row = sqlx::query($crate::store::sql::SELECT_TASK_WITH_INSTANCE)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                let task = row.as_ref().map($crate::store::rows::task!()).transpose()?;
                let instance = row
                    .as_ref()
                    .map($crate::store::rows::instance!("i_"))
                    .transpose()?;
                Ok(task.zip(instance))
            }

            pub async fn open_tasks(
                &self,
                tenant: &str,
                filter: &$crate::store::TaskFilter,
            ) -> $crate::store::Result<(Vec<$crate::model::Task>, i64)> {
                let roles: &[$crate::model::Role] = filter
                    .mine
                    .as_ref()
                    .map_or(&[], |(_, roles)| roles.as_slice());
                let roles = &roles[..roles.len().min($crate::store::sql::MAX_ROLES)];
                let sql = $crate::store::sql::select_open_tasks(roles.len());
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(tenant)
                    .bind(filter.instance)
                    .bind(filter.mine.as_ref().map(|(user, _)| user.as_str()))
                    .bind(filter.due_before.map($crate::timefmt::to_db))
                    .bind(filter.limit)
                    .bind(filter.mine.as_ref().map(|_| 1_i64))
                    .bind(filter.definition.as_deref())
                    .bind(filter.assignee.as_deref())
                    .bind(filter.offset);
                for role in roles {
                    query = query.bind(role.as_str());
                }
                let rows = query.fetch_all(&self.pool).await?;
                let total: i64 = match rows.first() {
                    Some(row) => row.try_get("total")?,
                    None => 0,
                };
                let tasks = rows
                    .iter()
                    .map($crate::store::rows::task!())
                    .collect::<$crate::store::Result<Vec<_>>>()?;
                Ok((tasks, total))
            }

            pub async fn claim_timers(
                &self,
                statement: &'static str,
                now: chrono::DateTime<chrono::Utc>,
                limit: i64,
                worker: &str,
                lease_until: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<Vec<$crate::model::Timer>> {
                let rows = sqlx::query(statement)
                    .bind($crate::timefmt::to_db(lease_until))
                    .bind(worker)
                    .bind($crate::timefmt::to_db(now))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::store::rows::timer!()).collect()
            }

            /// Locks up to `max` fetchable jobs of `topics` for `worker` until `until`.
            pub async fn claim_jobs(
                &self,
                sql: String,
                claim: &$crate::store::JobClaim<'_>,
            ) -> $crate::store::Result<Vec<$crate::model::Job>> {
                let topics =
                    &claim.topics[..claim.topics.len().min($crate::store::sql::MAX_TOPICS)];
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(claim.worker)
                    .bind($crate::timefmt::to_db(claim.until))
                    .bind($crate::timefmt::to_db(claim.now))
                    .bind(i64::from(claim.tenant.is_none()))
                    .bind(claim.tenant.unwrap_or(""))
                    .bind(claim.max);
                for topic in topics {
                    query = query.bind(topic.as_str());
                }
                let rows = query.fetch_all(&self.pool).await?;
                rows.iter().map($crate::store::rows::job!()).collect()
            }

            pub async fn job(
                &self,
                id: uuid::Uuid,
            ) -> $crate::store::Result<Option<$crate::model::Job>> {
                let row = sqlx::query($crate::store::sql::SELECT_JOB)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map($crate::store::rows::job!()).transpose()
            }

            pub async fn jobs_of(
                &self,
                instance: uuid::Uuid,
            ) -> $crate::store::Result<Vec<$crate::model::Job>> {
                let rows = sqlx::query($crate::store::sql::SELECT_JOBS_OF_INSTANCE)
                    .bind(instance)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::store::rows::job!()).collect()
            }

            pub async fn incidents(
                &self,
                tenant: Option<&str>,
            ) -> $crate::store::Result<Vec<$crate::model::Job>> {
                let rows = sqlx::query($crate::store::sql::SELECT_INCIDENTS)
                    .bind(i64::from(tenant.is_none()))
                    .bind(tenant.unwrap_or(""))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::store::rows::job!()).collect()
            }

            pub async fn incident_count(&self) -> $crate::store::Result<i64> {
                Ok(sqlx::query_scalar($crate::store::sql::COUNT_INCIDENTS)
                    .fetch_one(&self.pool)
                    .await?)
            }

            pub async fn leased_instances(
                &self,
                worker: &str,
                lease_until: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<Vec<$crate::model::Instance>> {
                let rows = sqlx::query($crate::store::sql::SELECT_LEASED_INSTANCES)
                    .bind(worker)
                    .bind($crate::timefmt::to_db(lease_until))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::store::rows::instance!()).collect()
            }

            pub async fn replace_schedules(
                &self,
                definition: &str,
                version: i64,
                tenant: &str,
                next: &[(String, chrono::DateTime<chrono::Utc>)],
            ) -> $crate::store::Result<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query($crate::store::sql::DELETE_SCHEDULES)
                    .bind(definition)
                    .bind(tenant)
                    .execute(&mut *tx)
                    .await?;
                for (name, at) in next {
                    sqlx::query($crate::store::sql::INSERT_SCHEDULE)
                        .bind(definition)
                        .bind(name)
                        .bind(version)
                        .bind(tenant)
                        .bind($crate::timefmt::to_db(*at))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            pub async fn due_schedules(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::store::ScheduleRow>> {
                let rows = sqlx::query($crate::store::sql::SELECT_DUE_SCHEDULES)
                    .bind($crate::timefmt::to_db(now))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::store::rows::schedule!()).collect()
            }

            pub async fn open_tasks_in_state(
                &self,
                tenant: &str,
                definition: &str,
                state: &str,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::model::Task>> {
                let rows = sqlx::query($crate::store::sql::SELECT_OPEN_TASKS_IN_STATE)
                    .bind(tenant)
                    .bind(definition)
                    .bind(state)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::store::rows::task!()).collect()
            }

            pub async fn tenant_holidays(
                &self,
                tenant: &str,
            ) -> $crate::store::Result<Vec<(i64, i64, String)>> {
                let rows = sqlx::query($crate::store::sql::SELECT_TENANT_HOLIDAYS)
                    .bind(tenant)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("month")?, r.try_get("day")?, r.try_get("name")?)))
                    .collect()
            }

            pub async fn set_tenant_holidays(
                &self,
                tenant: &str,
                holidays: &[(i64, i64, String)],
            ) -> $crate::store::Result<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query($crate::store::sql::DELETE_TENANT_HOLIDAYS)
                    .bind(tenant)
                    .execute(&mut *tx)
                    .await?;
                for (month, day, name) in holidays {
                    sqlx::query($crate::store::sql::INSERT_TENANT_HOLIDAY)
                        .bind(tenant)
                        .bind(*month)
                        .bind(*day)
                        .bind(name)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            pub async fn pools(
                &self,
                tenant: &str,
            ) -> $crate::store::Result<Vec<(String, String, i64, i64, i64)>> {
                let rows = sqlx::query($crate::store::sql::SELECT_POOLS)
                    .bind(tenant)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok((
                            r.try_get("pool")?,
                            r.try_get("key")?,
                            r.try_get("capacity")?,
                            r.try_get("used")?,
                            r.try_get("next_seq")?,
                        ))
                    })
                    .collect()
            }

            pub async fn pool_waiters(
                &self,
                tenant: &str,
            ) -> $crate::store::Result<Vec<(String, String, i64, $crate::model::InstanceId)>> {
                let rows = sqlx::query($crate::store::sql::SELECT_POOL_WAITERS)
                    .bind(tenant)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok((
                            r.try_get("pool")?,
                            r.try_get("key")?,
                            r.try_get("seq")?,
                            r.try_get("instance_id")?,
                        ))
                    })
                    .collect()
            }

            pub async fn next_timer_at(
                &self,
            ) -> $crate::store::Result<Option<chrono::DateTime<chrono::Utc>>> {
                let next: Option<i64> = sqlx::query_scalar($crate::store::sql::NEXT_TIMER)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(next.map($crate::timefmt::from_db))
            }

            pub async fn events(
                &self,
                instance: uuid::Uuid,
            ) -> $crate::store::Result<Vec<$crate::history::StoredEvent>> {
                let rows = sqlx::query($crate::store::sql::SELECT_EVENTS)
                    .bind(instance)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::store::rows::event!()).collect()
            }

            pub async fn document(
                &self,
                id: uuid::Uuid,
            ) -> $crate::store::Result<Option<$crate::documents::Document>> {
                let row = sqlx::query($crate::store::sql::SELECT_DOCUMENT)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref()
                    .map($crate::store::rows::document!())
                    .transpose()
            }

            pub async fn registers(
                &self,
                tenant: &str,
                year: i32,
            ) -> $crate::store::Result<Vec<(String, i64)>> {
                let rows = sqlx::query($crate::store::sql::SELECT_REGISTERS)
                    .bind(tenant)
                    .bind(i64::from(year))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("register")?, r.try_get("last")?)))
                    .collect()
            }

            pub async fn documents(
                &self,
                instance: uuid::Uuid,
            ) -> $crate::store::Result<Vec<$crate::documents::Document>> {
                let rows = sqlx::query($crate::store::sql::SELECT_DOCUMENTS)
                    .bind(instance)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::store::rows::document!()).collect()
            }

            pub async fn insert_token(
                &self,
                hash: &str,
                token: &$crate::store::TokenRow,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<()> {
                sqlx::query($crate::store::sql::INSERT_TOKEN)
                    .bind(hash)
                    .bind(&token.user)
                    .bind(&token.tenant)
                    .bind(token.roles.join(","))
                    .bind($crate::timefmt::to_db(at))
                    .bind(token.expires_at.map($crate::timefmt::to_db))
                    .bind(if token.session { "session" } else { "api" })
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            pub async fn token(
                &self,
                hash: &str,
            ) -> $crate::store::Result<Option<$crate::store::TokenRow>> {
                let row = sqlx::query($crate::store::sql::SELECT_TOKEN)
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map($crate::store::rows::token!()).transpose()
            }

            pub async fn tokens(
                &self,
                tenant: Option<&str>,
            ) -> $crate::store::Result<Vec<(String, $crate::store::TokenRow)>> {
                let rows = sqlx::query($crate::store::sql::SELECT_TOKENS)
                    .bind(tenant)
                    .fetch_all(&self.pool)
                    .await?;
                let ids = rows
                    .iter()
                    .map(|r| r.try_get::<String, _>("id"))
                    .collect::<Result<Vec<_>, _>>()?;
                let tokens = rows
                    .iter()
                    .map($crate::store::rows::token!())
                    .collect::<$crate::store::Result<Vec<_>>>()?;
                Ok(ids.into_iter().zip(tokens).collect())
            }

            pub async fn revoke_token(
                &self,
                id: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<bool> {
                let done = sqlx::query($crate::store::sql::REVOKE_TOKEN)
                    .bind($crate::timefmt::to_db(at))
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn token_count(&self) -> $crate::store::Result<i64> {
                Ok(sqlx::query_scalar($crate::store::sql::COUNT_TOKENS)
                    .fetch_one(&self.pool)
                    .await?)
            }

            pub async fn pending_notices(
                &self,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::model::Notice>> {
                let rows = sqlx::query($crate::store::sql::SELECT_PENDING_NOTICES)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::store::rows::notice!()).collect()
            }

            pub async fn notices_of_tenant(
                &self,
                tenant: &str,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::model::Notice>> {
                let rows = sqlx::query($crate::store::sql::SELECT_NOTICES_OF_TENANT)
                    .bind(tenant)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::store::rows::notice!()).collect()
            }

            /// Writes a notice's mails and marks it expanded, together.
            pub async fn expand_notice(
                &self,
                notice: uuid::Uuid,
                mails: &[$crate::store::Mail],
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<()> {
                let mut tx = self.pool.begin().await?;
                for mail in mails {
                    sqlx::query($crate::store::sql::INSERT_MAIL)
                        .bind(mail.id)
                        .bind(notice)
                        .bind(&mail.user)
                        .bind(&mail.address)
                        .bind(&mail.subject)
                        .bind(&mail.body)
                        .bind($crate::timefmt::to_db(at))
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query($crate::store::sql::MARK_NOTICE_EXPANDED)
                    .bind($crate::timefmt::to_db(at))
                    .bind(notice)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            pub async fn mail_users(
                &self,
                tenant: &str,
            ) -> $crate::store::Result<Vec<(String, Vec<String>, String)>> {
                let rows = sqlx::query($crate::store::sql::SELECT_MAIL_USERS)
                    .bind(tenant)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        let roles: String = r.try_get("roles")?;
                        Ok((
                            r.try_get("user_name")?,
                            roles
                                .split(',')
                                .filter(|x| !x.is_empty())
                                .map(str::to_string)
                                .collect(),
                            r.try_get("email")?,
                        ))
                    })
                    .collect()
            }

            pub async fn due_mail(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::store::Mail>> {
                let rows = sqlx::query($crate::store::sql::SELECT_DUE_MAIL)
                    .bind($crate::timefmt::to_db(now))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::store::Mail {
                            id: r.try_get("id")?,
                            user: String::new(),
                            address: r.try_get("address")?,
                            subject: r.try_get("subject")?,
                            body: r.try_get("body")?,
                            attempts: r.try_get("attempts")?,
                        })
                    })
                    .collect()
            }

            pub async fn mail_sent(
                &self,
                id: uuid::Uuid,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<bool> {
                let done = sqlx::query($crate::store::sql::MARK_MAIL_SENT)
                    .bind($crate::timefmt::to_db(at))
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn mail_failed(
                &self,
                id: uuid::Uuid,
                next: chrono::DateTime<chrono::Utc>,
                error: &str,
            ) -> $crate::store::Result<()> {
                sqlx::query($crate::store::sql::MARK_MAIL_FAILED)
                    .bind($crate::timefmt::to_db(next))
                    .bind(error)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            pub async fn set_user_full_name(
                &self,
                user: &str,
                full_name: &str,
            ) -> $crate::store::Result<bool> {
                Ok(sqlx::query($crate::store::sql::SET_USER_FULL_NAME)
                    .bind(full_name)
                    .bind(user)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    == 1)
            }

            pub async fn user_full_name(
                &self,
                user: &str,
                tenant: &str,
            ) -> $crate::store::Result<Option<String>> {
                let row = sqlx::query($crate::store::sql::SELECT_USER_FULL_NAME)
                    .bind(user)
                    .bind(tenant)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(match row {
                    Some(row) => row.try_get::<Option<String>, _>(0)?,
                    None => None,
                })
            }

            pub async fn set_user_mail(
                &self,
                user: &str,
                email: Option<&str>,
                mail_off: Option<bool>,
            ) -> $crate::store::Result<bool> {
                let mut changed = false;
                if let Some(email) = email {
                    changed |= sqlx::query($crate::store::sql::SET_USER_EMAIL)
                        .bind(email)
                        .bind(user)
                        .execute(&self.pool)
                        .await?
                        .rows_affected()
                        == 1;
                }
                if let Some(off) = mail_off {
                    changed |= sqlx::query($crate::store::sql::SET_USER_MAIL_OFF)
                        .bind(i64::from(off))
                        .bind(user)
                        .execute(&self.pool)
                        .await?
                        .rows_affected()
                        == 1;
                }
                Ok(changed)
            }

            pub async fn upsert_user(
                &self,
                user: &$crate::store::UserRow,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query($crate::store::sql::UPSERT_USER)
                    .bind(&user.user)
                    .bind(&user.tenant)
                    .bind(user.roles.join(","))
                    .bind(&user.password_hash)
                    .bind($crate::timefmt::to_db(at))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query($crate::store::sql::REVOKE_SESSIONS_OF_USER)
                    .bind($crate::timefmt::to_db(at))
                    .bind(&user.user)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            pub async fn user(
                &self,
                name: &str,
            ) -> $crate::store::Result<Option<$crate::store::UserRow>> {
                let row = sqlx::query($crate::store::sql::SELECT_USER)
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map($crate::store::rows::user!()).transpose()
            }

            pub async fn users(
                &self,
                tenant: Option<&str>,
            ) -> $crate::store::Result<Vec<$crate::store::UserRow>> {
                let rows = sqlx::query($crate::store::sql::SELECT_USERS)
                    .bind(tenant)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::store::rows::user!()).collect()
            }

            pub async fn disable_user(
                &self,
                name: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<bool> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query($crate::store::sql::DISABLE_USER)
                    .bind($crate::timefmt::to_db(at))
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                sqlx::query($crate::store::sql::REVOKE_SESSIONS_OF_USER)
                    .bind($crate::timefmt::to_db(at))
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            pub async fn sign_in_failures(
                &self,
                account: &str,
                address: &str,
                since: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<Vec<$crate::store::SignInFailures>> {
                let rows: Vec<(String, i64, i64)> =
                    sqlx::query_as($crate::store::sql::SELECT_SIGN_IN_FAILURES)
                        .bind(account)
                        .bind(address)
                        .bind($crate::timefmt::to_db(since))
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows
                    .into_iter()
                    .map(|(subject, failures, last)| $crate::store::SignInFailures {
                        subject,
                        failures,
                        last_at: $crate::timefmt::from_db(last),
                    })
                    .collect())
            }

            pub async fn charge_sign_in(
                &self,
                charges: &[$crate::store::SignInCharge<'_>],
                now: chrono::DateTime<chrono::Utc>,
                forget_before: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<bool> {
                let mut tx = self.pool.begin().await?;
                for charge in charges {
                    let done = match charge.seen {
                        None => {
                            sqlx::query($crate::store::sql::CHARGE_SIGN_IN)
                                .bind(charge.subject)
                                .bind($crate::timefmt::to_db(now))
                                .bind($crate::timefmt::to_db(forget_before))
                                .bind(charge.below)
                                .execute(&mut *tx)
                                .await?
                        }
                        Some(seen) => {
                            sqlx::query($crate::store::sql::CHARGE_SIGN_IN_FROM)
                                .bind(charge.subject)
                                .bind($crate::timefmt::to_db(now))
                                .bind(seen)
                                .execute(&mut *tx)
                                .await?
                        }
                    };
                    if done.rows_affected() != 1 {
                        return Ok(false);
                    }
                }
                sqlx::query($crate::store::sql::EXPIRE_SIGN_IN_FAILURES)
                    .bind($crate::timefmt::to_db(forget_before))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            pub async fn sign_in_succeeded(
                &self,
                account: Option<&str>,
                address: &str,
            ) -> $crate::store::Result<()> {
                let mut tx = self.pool.begin().await?;
                if let Some(account) = account {
                    sqlx::query($crate::store::sql::CLEAR_SIGN_IN_FAILURES)
                        .bind(account)
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query($crate::store::sql::REFUND_SIGN_IN)
                    .bind(address)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            pub async fn execute_raw(&self, statement: String) -> $crate::store::Result<u64> {
                Ok(sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }
        }
    };
}
pub(crate) use sql_store;
