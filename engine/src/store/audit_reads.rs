//! What verification and checkpoints read and write, for one backend (see `sql.rs` for why a
//! macro): batches of instances with every row that names them, read inside one snapshot; the
//! deploy chain; the instance ledger's summary; checkpoints.

/// Implements the audit reads for one backend; `$db` is its `sqlx::Database`.
macro_rules! sql_audit {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Holds the end of a chain (`key`, one of `store::chain`) until the transaction
            /// ends, so that two writers appending at once take consecutive links instead of
            /// the same one. SQLite has no statement for it (`CHAIN_LOCK` is `None`): there the
            /// caller writes before it reads the chain's end, which takes the database's one
            /// write lock for the rest of the transaction.
            async fn lock_chain(
                conn: &mut <$db as sqlx::Database>::Connection,
                key: i64,
            ) -> $crate::store::Result<()> {
                if let Some(lock) = Self::CHAIN_LOCK {
                    sqlx::query(lock).bind(key).execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// Appends a deploy record: the next link of the deploy chain.
            async fn append_deploy(
                conn: &mut <$db as sqlx::Database>::Connection,
                definition: &str,
                version: i64,
                package_sha256: &str,
                (by, at): (&str, chrono::DateTime<chrono::Utc>),
                note: Option<&str>,
                owner: Option<&str>,
            ) -> $crate::store::Result<()> {
                Self::lock_chain(&mut *conn, $crate::store::chain::DEPLOYS).await?;
                let last = sqlx::query($crate::store::sql::SELECT_LAST_DEPLOY)
                    .fetch_optional(&mut *conn)
                    .await?;
                let (seq, prev_hash) = match last {
                    Some(r) => (
                        r.try_get::<i64, _>("seq")? + 1,
                        r.try_get::<String, _>("hash")?,
                    ),
                    None => (1, $crate::history::GENESIS.to_string()),
                };
                let record = $crate::history::DeployRecord {
                    v: $crate::history::FORMAT,
                    seq,
                    definition: definition.to_string(),
                    version,
                    package_sha256: package_sha256.to_string(),
                    deployed_by: by.to_string(),
                    deployed_at: $crate::timefmt::rfc3339(at),
                    note: note.map(str::to_string),
                    owner: owner.map(str::to_string),
                    prev_hash: prev_hash.clone(),
                };
                let (body, hash) = record.seal();
                sqlx::query($crate::store::sql::INSERT_DEPLOY)
                    .bind(seq)
                    .bind(definition)
                    .bind(version)
                    .bind(body)
                    .bind(hash)
                    .bind(prev_hash)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            /// Appends the next link of the relation chain: `relation` as recorded.
            async fn append_relation_record(
                conn: &mut <$db as sqlx::Database>::Connection,
                relation: &$crate::store::RelationRow,
                (by, at): (&str, chrono::DateTime<chrono::Utc>),
                note: Option<&str>,
            ) -> $crate::store::Result<()> {
                Self::lock_chain(&mut *conn, $crate::store::chain::RELATIONS).await?;
                let last = sqlx::query($crate::store::sql::SELECT_LAST_RELATION_RECORD)
                    .fetch_optional(&mut *conn)
                    .await?;
                let (seq, prev_hash) = match last {
                    Some(r) => (
                        r.try_get::<i64, _>("seq")? + 1,
                        r.try_get::<String, _>("hash")?,
                    ),
                    None => (1, $crate::history::GENESIS.to_string()),
                };
                let day =
                    |d: Option<chrono::NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
                let record = $crate::history::RelationRecord {
                    v: $crate::history::FORMAT,
                    seq,
                    provider: relation.provider.clone(),
                    client: relation.client.clone(),
                    scope: relation.scope.clone(),
                    from: day(relation.from),
                    until: day(relation.until),
                    recorded_by: by.to_string(),
                    recorded_at: $crate::timefmt::rfc3339(at),
                    note: note.map(str::to_string),
                    prev_hash: prev_hash.clone(),
                };
                let (body, hash) = record.seal();
                sqlx::query($crate::store::sql::INSERT_RELATION_RECORD)
                    .bind(seq)
                    .bind(&relation.provider)
                    .bind(&relation.client)
                    .bind(body)
                    .bind(hash)
                    .bind(prev_hash)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            /// Whether the one-time work named by `key` in `procedo_meta` is still to do (a read
            /// without a transaction: the usual answer, no, takes no lock).
            async fn is_pending(pool: &sqlx::Pool<$db>, key: &str) -> $crate::store::Result<bool> {
                let pending: Option<String> = sqlx::query_scalar($crate::store::sql::SELECT_META)
                    .bind(key)
                    .fetch_optional(pool)
                    .await?;
                Ok(pending.is_some())
            }

            /// Takes the marker of one-time work as the transaction's first statement: the
            /// process that deletes it does the work. Another starting at the same moment waits
            /// on the row (PostgreSQL) or on the write lock (SQLite: a write first waits, a
            /// read that then writes would fail), then finds the marker gone and does nothing.
            async fn take_marker(
                conn: &mut <$db as sqlx::Database>::Connection,
                key: &str,
            ) -> $crate::store::Result<bool> {
                let taken = sqlx::query($crate::store::sql::DELETE_META)
                    .bind(key)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                Ok(taken > 0)
            }

            /// Enters the relations administrators recorded before migration 0020 in the
            /// relation chain, once.
            pub async fn record_pending_relations(&self) -> $crate::store::Result<()> {
                if !Self::is_pending(&self.pool, "record_relations").await? {
                    return Ok(());
                }
                let mut tx = self.pool.begin().await?;
                if !Self::take_marker(&mut tx, "record_relations").await? {
                    return Ok(());
                }
                let rows = sqlx::query($crate::store::sql::SELECT_UNRECORDED_RELATIONS)
                    .fetch_all(&mut *tx)
                    .await?;
                let relations = rows
                    .iter()
                    .map($crate::store::tenancy::relation!())
                    .collect::<$crate::store::Result<Vec<_>>>()?;
                for (r, relation) in rows.iter().zip(&relations) {
                    let created_us: i64 = r.try_get("created_us")?;
                    Self::append_relation_record(
                        &mut tx,
                        relation,
                        ("an administrator", $crate::timefmt::from_db(created_us)),
                        Some("recorded at the upgrade to the relation chain (migration 0020)"),
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            /// Records the definitions deployed before migration 0009 in the deploy chain, once.
            pub async fn record_pending_deploys(&self) -> $crate::store::Result<()> {
                if !Self::is_pending(&self.pool, "record_deploys").await? {
                    return Ok(());
                }
                let mut tx = self.pool.begin().await?;
                if !Self::take_marker(&mut tx, "record_deploys").await? {
                    return Ok(());
                }
                let rows = sqlx::query($crate::store::sql::SELECT_UNRECORDED_DEFINITIONS)
                    .fetch_all(&mut *tx)
                    .await?;
                for r in &rows {
                    let sqlx::types::Json(package): sqlx::types::Json<$crate::definition::Package> =
                        r.try_get("package")?;
                    let id: String = r.try_get("id")?;
                    let deployed_by: String = r.try_get("deployed_by")?;
                    let deployed_us: i64 = r.try_get("deployed_us")?;
                    Self::append_deploy(
                        &mut tx,
                        &id,
                        r.try_get("version")?,
                        &package.sha256(),
                        (&deployed_by, $crate::timefmt::from_db(deployed_us)),
                        Some("recorded at the upgrade to tamper-evident history (migration 0009)"),
                        // Every definition older than tenancy (migration 0010) is shared.
                        None,
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            /// Opens a read transaction that sees one consistent picture of the database.
            pub async fn snapshot(
                &self,
                first: Option<&'static str>,
            ) -> $crate::store::Result<sqlx::Transaction<'static, $db>> {
                let mut tx = self.pool.begin().await?;
                if let Some(statement) = first {
                    sqlx::query(statement).execute(&mut *tx).await?;
                }
                Ok(tx)
            }

            /// The next batch of up to `limit` instances after `after`, with every row that names
            /// an instance id in the batch's range.
            pub async fn audit_batch(
                conn: &mut <$db as sqlx::Database>::Connection,
                after: Option<uuid::Uuid>,
                tenant: Option<&str>,
                limit: i64,
            ) -> $crate::store::Result<$crate::store::AuditBatch> {
                let rows = sqlx::query($crate::store::sql::VERIFY_INSTANCES)
                    .bind(after)
                    .bind(tenant)
                    .bind(limit)
                    .fetch_all(&mut *conn)
                    .await?;
                let instances = rows
                    .iter()
                    .map($crate::store::rows::instance!())
                    .collect::<$crate::store::Result<Vec<_>>>()?;
                let full = i64::try_from(instances.len()).unwrap_or(i64::MAX) >= limit;
                let upper = if full {
                    instances.last().map(|i| i.id.uuid())
                } else {
                    None
                };
                let events = sqlx::query($crate::store::sql::VERIFY_EVENTS)
                    .bind(after)
                    .bind(upper)
                    .bind(tenant)
                    .fetch_all(&mut *conn)
                    .await?;
                let events = events
                    .iter()
                    .map($crate::store::rows::event!())
                    .collect::<$crate::store::Result<Vec<_>>>()?;
                let tasks = sqlx::query($crate::store::sql::VERIFY_TASKS)
                    .bind(after)
                    .bind(upper)
                    .bind(tenant)
                    .fetch_all(&mut *conn)
                    .await?;
                let tasks = tasks
                    .iter()
                    .map(|r| {
                        Ok($crate::store::TaskRecord {
                            id: r.try_get("id")?,
                            instance: r.try_get("instance_id")?,
                            tenant: r.try_get("tenant")?,
                            status: r.try_get("status")?,
                            completed_action: r.try_get("completed_action")?,
                            completed_by: r.try_get("completed_by")?,
                        })
                    })
                    .collect::<$crate::store::Result<Vec<_>>>()?;
                let documents = sqlx::query($crate::store::sql::VERIFY_DOCUMENTS)
                    .bind(after)
                    .bind(upper)
                    .bind(tenant)
                    .fetch_all(&mut *conn)
                    .await?;
                let documents = documents
                    .iter()
                    .map($crate::store::rows::document!())
                    .collect::<$crate::store::Result<Vec<_>>>()?;
                let jobs = sqlx::query($crate::store::sql::VERIFY_JOBS)
                    .bind(after)
                    .bind(upper)
                    .bind(tenant)
                    .fetch_all(&mut *conn)
                    .await?;
                let jobs = jobs
                    .iter()
                    .map($crate::store::rows::job!())
                    .collect::<$crate::store::Result<Vec<_>>>()?;
                let ledger = sqlx::query($crate::store::sql::VERIFY_LEDGER)
                    .bind(after)
                    .bind(upper)
                    .bind(tenant)
                    .fetch_all(&mut *conn)
                    .await?;
                let ledger = ledger
                    .iter()
                    .map(|r| {
                        Ok((
                            r.try_get("n")?,
                            r.try_get("instance_id")?,
                            r.try_get("tenant")?,
                        ))
                    })
                    .collect::<$crate::store::Result<Vec<_>>>()?;
                Ok($crate::store::AuditBatch {
                    instances,
                    events,
                    tasks,
                    documents,
                    jobs,
                    ledger,
                    upper,
                    last: !full,
                })
            }

            /// The ledger's entries, lowest and highest number, and up to 100
            /// numbers missing from it.
            pub async fn ledger_summary(
                conn: &mut <$db as sqlx::Database>::Connection,
            ) -> $crate::store::Result<$crate::store::LedgerSummary> {
                let r = sqlx::query($crate::store::sql::LEDGER_SUMMARY)
                    .fetch_one(&mut *conn)
                    .await?;
                let gaps = sqlx::query_scalar($crate::store::sql::LEDGER_GAPS)
                    .fetch_all(&mut *conn)
                    .await?;
                Ok($crate::store::LedgerSummary {
                    entries: r.try_get("entries")?,
                    lowest: r.try_get("lowest")?,
                    highest: r.try_get("highest")?,
                    missing: gaps,
                })
            }

            /// Every register's last number (of a tenant, or all): (tenant, register, year, last).
            pub async fn audit_registers(
                conn: &mut <$db as sqlx::Database>::Connection,
                tenant: Option<&str>,
            ) -> $crate::store::Result<Vec<(String, String, i64, i64)>> {
                let rows = sqlx::query($crate::store::sql::VERIFY_REGISTERS)
                    .bind(tenant)
                    .fetch_all(&mut *conn)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok((
                            r.try_get("tenant")?,
                            r.try_get("register")?,
                            r.try_get("year")?,
                            r.try_get("last")?,
                        ))
                    })
                    .collect()
            }

            /// The register of outgoing contractors of a tenant's cases (`None`: all).
            pub async fn audit_rotation(
                conn: &mut <$db as sqlx::Database>::Connection,
                tenant: Option<&str>,
            ) -> $crate::store::Result<Vec<$crate::store::RotationAudit>> {
                let rows = sqlx::query($crate::store::sql::VERIFY_ROTATION)
                    .bind(tenant)
                    .fetch_all(&mut *conn)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::store::RotationAudit {
                            id: r.try_get("id")?,
                            authority: r.try_get("authority")?,
                            category: r.try_get("category")?,
                            band: r.try_get("band")?,
                            operator: r.try_get("operator")?,
                            operator_name: r.try_get("operator_name")?,
                            tenant: r.try_get("tenant")?,
                            instance: r.try_get("instance_id")?,
                            recorded_at: $crate::timefmt::from_db(r.try_get("recorded_us")?),
                        })
                    })
                    .collect()
            }

            /// The relations cases granted, of a provider (`None`: all).
            pub async fn audit_relations(
                conn: &mut <$db as sqlx::Database>::Connection,
                tenant: Option<&str>,
            ) -> $crate::store::Result<Vec<$crate::store::RelationRow>> {
                let rows = sqlx::query($crate::store::sql::VERIFY_RELATIONS)
                    .bind(tenant)
                    .fetch_all(&mut *conn)
                    .await?;
                rows.iter()
                    .map($crate::store::tenancy::relation!())
                    .collect()
            }

            /// The relations administrators recorded, of a provider (`None`: all).
            pub async fn audit_recorded_relations(
                conn: &mut <$db as sqlx::Database>::Connection,
                tenant: Option<&str>,
            ) -> $crate::store::Result<Vec<$crate::store::RelationRow>> {
                let rows = sqlx::query($crate::store::sql::VERIFY_RECORDED_RELATIONS)
                    .bind(tenant)
                    .fetch_all(&mut *conn)
                    .await?;
                rows.iter()
                    .map($crate::store::tenancy::relation!())
                    .collect()
            }

            /// The relation chain, oldest first.
            pub async fn audit_relation_records(
                conn: &mut <$db as sqlx::Database>::Connection,
            ) -> $crate::store::Result<Vec<$crate::store::RelationRecordRow>> {
                let rows = sqlx::query($crate::store::sql::SELECT_RELATION_RECORDS)
                    .fetch_all(&mut *conn)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::store::RelationRecordRow {
                            seq: r.try_get("seq")?,
                            provider: r.try_get("provider")?,
                            client: r.try_get("client")?,
                            body: r.try_get("body")?,
                            hash: r.try_get("hash")?,
                            prev_hash: r.try_get("prev_hash")?,
                        })
                    })
                    .collect()
            }

            /// The deploy chain, oldest first.
            pub async fn audit_deploys(
                conn: &mut <$db as sqlx::Database>::Connection,
            ) -> $crate::store::Result<Vec<$crate::store::DeployRow>> {
                let rows = sqlx::query($crate::store::sql::SELECT_DEPLOYS)
                    .fetch_all(&mut *conn)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::store::DeployRow {
                            seq: r.try_get("seq")?,
                            definition: r.try_get("definition")?,
                            version: r.try_get("version")?,
                            body: r.try_get("body")?,
                            hash: r.try_get("hash")?,
                            prev_hash: r.try_get("prev_hash")?,
                        })
                    })
                    .collect()
            }

            /// Every stored definition's package hash, recomputed from the stored package:
            /// (id, version) → hash, or why it cannot be read.
            pub async fn audit_packages(
                conn: &mut <$db as sqlx::Database>::Connection,
            ) -> $crate::store::Result<
                std::collections::BTreeMap<
                    (String, i64),
                    Result<$crate::store::PackageFact, String>,
                >,
            > {
                use futures_util::TryStreamExt as _;
                let mut out = std::collections::BTreeMap::new();
                let mut rows =
                    sqlx::query($crate::store::sql::SELECT_DEFINITION_PACKAGES).fetch(&mut *conn);
                while let Some(r) = rows.try_next().await? {
                    let key = (r.try_get("id")?, r.try_get("version")?);
                    let package: Result<sqlx::types::Json<$crate::definition::Package>, _> =
                        r.try_get("package");
                    let owner: Option<String> = r.try_get("owner")?;
                    out.insert(
                        key,
                        package
                            .map(|p| $crate::store::PackageFact {
                                sha256: p.0.sha256(),
                                owner,
                            })
                            .map_err(|e| e.to_string()),
                    );
                }
                Ok(out)
            }

            pub async fn insert_checkpoint(
                &self,
                c: &$crate::store::CheckpointRow,
                heads: &str,
            ) -> $crate::store::Result<i64> {
                // The next number is read from the table: two checkpoints at once must not
                // both take it.
                let mut tx = self.pool.begin().await?;
                Self::lock_chain(&mut tx, $crate::store::chain::CHECKPOINTS).await?;
                let id = sqlx::query_scalar($crate::store::sql::INSERT_CHECKPOINT)
                    .bind($crate::timefmt::to_db(c.created_at))
                    .bind(c.instances)
                    .bind(&c.root)
                    .bind(&c.header)
                    .bind(&c.signature)
                    .bind(&c.public_key)
                    .bind(heads)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(id)
            }

            pub async fn checkpoints(
                &self,
            ) -> $crate::store::Result<Vec<$crate::store::CheckpointRow>> {
                let rows = sqlx::query($crate::store::sql::SELECT_CHECKPOINTS)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map($crate::store::audit_reads::checkpoint!())
                    .collect()
            }

            pub async fn checkpoint(
                &self,
                id: i64,
            ) -> $crate::store::Result<Option<($crate::store::CheckpointRow, String)>> {
                let row = sqlx::query($crate::store::sql::SELECT_CHECKPOINT)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(r) = row else { return Ok(None) };
                let checkpoint = Some(&r)
                    .map($crate::store::audit_reads::checkpoint!())
                    .transpose()?;
                let heads: String = r.try_get("heads")?;
                Ok(checkpoint.map(|c| (c, heads)))
            }
        }
    };
}
pub(crate) use sql_audit;

macro_rules! checkpoint {
    () => {
        |r| -> $crate::store::Result<$crate::store::CheckpointRow> {
            Ok($crate::store::CheckpointRow {
                id: r.try_get("id")?,
                created_at: $crate::timefmt::from_db(r.try_get("created_us")?),
                instances: r.try_get("instances")?,
                root: r.try_get("root")?,
                header: r.try_get("header")?,
                signature: r.try_get("signature")?,
                public_key: r.try_get("public_key")?,
            })
        }
    };
}
pub(crate) use checkpoint;
