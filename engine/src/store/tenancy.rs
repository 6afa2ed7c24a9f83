//! The store's queries about tenants: the registry, relations, shared workflows taken up, and
//! what tenancy checks read (who completed what, which roles an official holds). One backend
//! per expansion, as in `queries.rs`.

/// Dates of a relation are stored as `YYYY-MM-DD` text (they are calendar days in Rome, not
/// instants).
pub(crate) fn parse_day(text: Option<String>) -> super::Result<Option<chrono::NaiveDate>> {
    text.map(|t| {
        chrono::NaiveDate::parse_from_str(&t, "%Y-%m-%d")
            .map_err(|_| super::StoreError::Corrupt(format!("relation date `{t}`")))
    })
    .transpose()
}

macro_rules! sql_tenancy {
    ($store:ty) => {
        impl $store {
            pub async fn schedules_of(
                &self,
                definition: &str,
            ) -> $crate::store::Result<Vec<$crate::store::ScheduleRow>> {
                let rows = sqlx::query($crate::store::sql::SELECT_SCHEDULES_OF)
                    .bind(definition)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::store::rows::schedule!()).collect()
            }

            pub async fn adopt(
                &self,
                tenant: &str,
                definition: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<bool> {
                let done = sqlx::query($crate::store::sql::INSERT_ADOPTION)
                    .bind(tenant)
                    .bind(definition)
                    .bind($crate::timefmt::to_db(at))
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn unadopt(
                &self,
                tenant: &str,
                definition: &str,
                schedules: bool,
            ) -> $crate::store::Result<bool> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query($crate::store::sql::DELETE_ADOPTION)
                    .bind(tenant)
                    .bind(definition)
                    .execute(&mut *tx)
                    .await?;
                if schedules {
                    sqlx::query($crate::store::sql::DELETE_SCHEDULES)
                        .bind(definition)
                        .bind(tenant)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn adopters(&self, definition: &str) -> $crate::store::Result<Vec<String>> {
                let rows = sqlx::query($crate::store::sql::SELECT_ADOPTERS)
                    .bind(definition)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(|r| Ok(r.try_get("tenant")?)).collect()
            }

            pub async fn adoptions(&self, tenant: &str) -> $crate::store::Result<Vec<String>> {
                let rows = sqlx::query($crate::store::sql::SELECT_ADOPTIONS)
                    .bind(tenant)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(|r| Ok(r.try_get("definition")?)).collect()
            }

            pub async fn upsert_tenant(
                &self,
                tenant: &$crate::store::TenantRow,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<()> {
                sqlx::query($crate::store::sql::UPSERT_TENANT)
                    .bind(&tenant.id)
                    .bind(&tenant.name)
                    .bind(&tenant.kind)
                    .bind($crate::timefmt::to_db(at))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            pub async fn seed_tenant(
                &self,
                tenant: &$crate::store::TenantRow,
                holidays: &[(i64, i64, String)],
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<bool> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query($crate::store::sql::SEED_TENANT)
                    .bind(&tenant.id)
                    .bind(&tenant.name)
                    .bind(&tenant.kind)
                    .bind($crate::timefmt::to_db(at))
                    .execute(&mut *tx)
                    .await?;
                let seeded = done.rows_affected() == 1;
                if seeded {
                    for (month, day, name) in holidays {
                        sqlx::query($crate::store::sql::INSERT_HOLIDAY_IF_ABSENT)
                            .bind(&tenant.id)
                            .bind(*month)
                            .bind(*day)
                            .bind(name)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(seeded)
            }

            pub async fn tenants(&self) -> $crate::store::Result<Vec<$crate::store::TenantRow>> {
                let rows = sqlx::query($crate::store::sql::SELECT_TENANTS)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::store::TenantRow {
                            id: r.try_get("id")?,
                            name: r.try_get("name")?,
                            kind: r.try_get("kind")?,
                        })
                    })
                    .collect()
            }

            pub async fn tenant(
                &self,
                id: &str,
            ) -> $crate::store::Result<Option<$crate::store::TenantRow>> {
                let row = sqlx::query($crate::store::sql::SELECT_TENANT)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| {
                    Ok($crate::store::TenantRow {
                        id: r.try_get("id")?,
                        name: r.try_get("name")?,
                        kind: r.try_get("kind")?,
                    })
                })
                .transpose()
            }

            /// Records a relation an administrator made, and its link of the relation chain,
            /// together. The row is written first: on SQLite that takes the write lock before
            /// the chain's end is read (a read transaction that then writes fails at once if
            /// another wrote meanwhile; a first write waits its turn). On PostgreSQL the
            /// append holds the chain's lock, so administrators recording at once each get
            /// the next link.
            pub async fn relate(
                &self,
                relation: &$crate::store::RelationRow,
                by: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query($crate::store::sql::UPSERT_RELATION)
                    .bind(&relation.provider)
                    .bind(&relation.client)
                    .bind(relation.scope.as_ref().map(|s| s.join(",")))
                    .bind(relation.from.map(|d| d.format("%Y-%m-%d").to_string()))
                    .bind(relation.until.map(|d| d.format("%Y-%m-%d").to_string()))
                    .bind($crate::timefmt::to_db(at))
                    .execute(&mut *tx)
                    .await?;
                Self::append_relation_record(&mut tx, relation, (by, at), None).await?;
                tx.commit().await?;
                Ok(())
            }

            pub async fn relation(
                &self,
                provider: &str,
                client: &str,
            ) -> $crate::store::Result<Option<$crate::store::RelationRow>> {
                let row = sqlx::query($crate::store::sql::SELECT_RELATION)
                    .bind(provider)
                    .bind(client)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref()
                    .map($crate::store::tenancy::relation!())
                    .transpose()
            }

            pub async fn relations(
                &self,
            ) -> $crate::store::Result<Vec<$crate::store::RelationRow>> {
                let rows = sqlx::query($crate::store::sql::SELECT_RELATIONS)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map($crate::store::tenancy::relation!())
                    .collect()
            }

            pub async fn rotation(
                &self,
                authority: &str,
            ) -> $crate::store::Result<Vec<$crate::store::RotationRow>> {
                let rows = sqlx::query($crate::store::sql::SELECT_ROTATION)
                    .bind(authority)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::store::RotationRow {
                            id: r.try_get("id")?,
                            category: r.try_get("category")?,
                            band: r.try_get("band")?,
                            operator: r.try_get("operator")?,
                            operator_name: r.try_get("operator_name")?,
                            instance: r.try_get("instance_id")?,
                            recorded_at: $crate::timefmt::from_db(r.try_get("recorded_us")?),
                        })
                    })
                    .collect()
            }

            pub async fn completers(
                &self,
                instance: uuid::Uuid,
            ) -> $crate::store::Result<Vec<(String, String)>> {
                let rows = sqlx::query($crate::store::sql::SELECT_COMPLETERS)
                    .bind(instance)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("state")?, r.try_get("completed_by")?)))
                    .collect()
            }

            pub async fn holder_roles(
                &self,
                user: &str,
                tenant: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<Vec<String>> {
                let rows = sqlx::query($crate::store::sql::SELECT_HOLDER_ROLES)
                    .bind(user)
                    .bind(tenant)
                    .bind($crate::timefmt::to_db(now))
                    .fetch_all(&self.pool)
                    .await?;
                let mut roles = Vec::new();
                for row in &rows {
                    let list: String = row.try_get("roles")?;
                    roles.extend(
                        list.split(',')
                            .map(str::trim)
                            .filter(|r| !r.is_empty())
                            .map(str::to_string),
                    );
                }
                roles.sort();
                roles.dedup();
                Ok(roles)
            }
        }
    };
}
pub(crate) use sql_tenancy;

macro_rules! relation {
    () => {
        |r| -> $crate::store::Result<$crate::store::RelationRow> {
            let scope: Option<String> = r.try_get("scope")?;
            Ok($crate::store::RelationRow {
                provider: r.try_get("provider")?,
                client: r.try_get("client")?,
                scope: scope.map(|s| s.split(',').map(str::to_string).collect()),
                from: $crate::store::tenancy::parse_day(r.try_get("valid_from")?)?,
                until: $crate::store::tenancy::parse_day(r.try_get("valid_until")?)?,
                granted_by: r.try_get("granted_by")?,
            })
        }
    };
}
pub(crate) use relation;
