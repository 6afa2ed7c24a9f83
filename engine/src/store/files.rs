//! The store's queries about attached files (migration 0012). One backend per expansion, as in
//! `queries.rs`.

macro_rules! sql_files {
    ($store:ty) => {
        impl $store {
            pub async fn insert_file_chunk(
                &self,
                upload: uuid::Uuid,
                n: i64,
                data: &[u8],
            ) -> $crate::store::Result<()> {
                sqlx::query($crate::store::sql::INSERT_FILE_CHUNK)
                    .bind(upload)
                    .bind(n)
                    .bind(data)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            pub async fn discard_upload(&self, upload: uuid::Uuid) -> $crate::store::Result<()> {
                sqlx::query($crate::store::sql::DELETE_FILE_CHUNKS)
                    .bind(upload)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            /// Records an uploaded content and its file row in one transaction. When the
            /// tenant already holds the same content, the new chunks are dropped and the file
            /// names the existing content.
            pub async fn finish_upload(
                &self,
                upload: uuid::Uuid,
                chunks: i64,
                file: &$crate::store::FileRow,
            ) -> $crate::store::Result<()> {
                let mut tx = self.pool.begin().await?;
                let created = $crate::timefmt::to_db(file.created_at);
                let size = i64::try_from(file.size)
                    .map_err(|_| $crate::store::StoreError::Corrupt("file size".into()))?;
                let inserted = sqlx::query($crate::store::sql::INSERT_FILE_BLOB)
                    .bind(&file.tenant)
                    .bind(&file.sha256)
                    .bind(size)
                    .bind(upload)
                    .bind(chunks)
                    .bind(created)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if inserted == 0 {
                    sqlx::query($crate::store::sql::DELETE_FILE_CHUNKS)
                        .bind(upload)
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query($crate::store::sql::INSERT_FILE)
                    .bind(file.id)
                    .bind(&file.tenant)
                    .bind(&file.sha256)
                    .bind(size)
                    .bind(&file.content_type)
                    .bind(&file.name)
                    .bind(&file.uploaded_by)
                    .bind(created)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            /// A file and where its bytes are (the upload holding the chunks, how many).
            pub async fn file(
                &self,
                id: uuid::Uuid,
            ) -> $crate::store::Result<Option<($crate::store::FileRow, uuid::Uuid, i64)>> {
                use sqlx::Row as _;
                let Some(r) = sqlx::query($crate::store::sql::SELECT_FILE)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                else {
                    return Ok(None);
                };
                let size: i64 = r.try_get("size")?;
                let row = $crate::store::FileRow {
                    id: r.try_get("id")?,
                    tenant: r.try_get("tenant")?,
                    sha256: r.try_get("sha256")?,
                    size: u64::try_from(size)
                        .map_err(|_| $crate::store::StoreError::Corrupt("file size".into()))?,
                    content_type: r.try_get("content_type")?,
                    name: r.try_get("name")?,
                    uploaded_by: r.try_get("uploaded_by")?,
                    created_at: $crate::timefmt::from_db(r.try_get("created_us")?),
                };
                Ok(Some((row, r.try_get("upload_id")?, r.try_get("chunks")?)))
            }

            /// One chunk of a stored content (`None`: missing).
            pub async fn file_chunk(
                &self,
                upload: uuid::Uuid,
                n: i64,
            ) -> $crate::store::Result<Option<Vec<u8>>> {
                Ok(sqlx::query_scalar($crate::store::sql::SELECT_FILE_CHUNK)
                    .bind(upload)
                    .bind(n)
                    .fetch_optional(&self.pool)
                    .await?)
            }
        }
    };
}
pub(crate) use sql_files;
