//! Scanner registrations (Harbor's pluggable scanner adapters), the system default among
//! them, and the scanner each project chose.

use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use crate::dbtime::{DbTime, now};
use crate::error::{is_foreign_key_violation, is_unique_violation};
use crate::rows::to_u64;
use crate::sql::{Arg, Sql, bind_args, contains_pattern, in_tx, limit_offset, with_pool};
use crate::users::found;
use crate::{Error, ProjectId, Result, Scanners};

/// A registered scanner adapter.
#[derive(Clone, PartialEq, Eq)]
pub struct ScannerRegistration {
    pub uuid: String,
    pub name: String,
    pub description: String,
    /// Base URL of the adapter (its API lives under `<url>/api/v1`).
    pub url: String,
    pub disabled: bool,
    pub is_default: bool,
    /// `""`, `"Basic"`, `"Bearer"` or `"X-ScannerAdapter-API-Key"`.
    pub auth: String,
    /// The secret sent to the adapter as `auth` says; never shown by the API.
    pub access_credential: String,
    pub skip_cert_verify: bool,
    pub use_internal_addr: bool,
    /// The built-in registration: it can be made the default but not edited or removed.
    pub immutable: bool,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

impl std::fmt::Debug for ScannerRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScannerRegistration")
            .field("uuid", &self.uuid)
            .field("name", &self.name)
            .field("url", &self.url)
            .field("auth", &self.auth)
            .field("is_default", &self.is_default)
            .finish_non_exhaustive()
    }
}

/// Filters of [`Scanners::list_scanners`]: exact values, or substrings when `fuzzy`.
#[derive(Debug, Clone, Default)]
pub struct ScannerQuery {
    pub name: Option<(String, bool)>,
    pub description: Option<(String, bool)>,
    pub url: Option<(String, bool)>,
}

#[derive(sqlx::FromRow)]
struct Row {
    uuid: String,
    name: String,
    description: String,
    url: String,
    disabled: bool,
    is_default: bool,
    auth: String,
    access_credential: String,
    skip_cert_verify: bool,
    use_internal_addr: bool,
    immutable: bool,
    create_time: DbTime,
    update_time: DbTime,
}

impl From<Row> for ScannerRegistration {
    fn from(r: Row) -> Self {
        ScannerRegistration {
            uuid: r.uuid,
            name: r.name,
            description: r.description,
            url: r.url,
            disabled: r.disabled,
            is_default: r.is_default,
            auth: r.auth,
            access_credential: r.access_credential,
            skip_cert_verify: r.skip_cert_verify,
            use_internal_addr: r.use_internal_addr,
            immutable: r.immutable,
            create_time: r.create_time.0,
            update_time: r.update_time.0,
        }
    }
}

const SELECT: &str = "SELECT uuid, name, description, url, disabled, is_default, auth, \
     access_credential, skip_cert_verify, use_internal_addr, immutable, create_time, \
     update_time FROM scanner_registrations";

fn conflict(e: sqlx::Error, r: &ScannerRegistration) -> Error {
    if is_unique_violation(&e) {
        Error::Conflict(format!(
            "a scanner registration named {:?} or with the URL {:?} already exists",
            r.name, r.url
        ))
    } else {
        e.into()
    }
}

impl Scanners<'_> {
    /// Stores a new registration (never as the default: see
    /// [`Scanners::set_default_scanner`]); [`Error::Conflict`] when its name or URL is
    /// taken. Times are set here.
    pub async fn create_scanner(self, r: &ScannerRegistration) -> Result<ScannerRegistration> {
        let t = DbTime(now());
        with_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO scanner_registrations (uuid, name, description, url, disabled, \
                 is_default, auth, access_credential, skip_cert_verify, use_internal_addr, \
                 immutable, create_time, update_time) \
                 VALUES ($1, $2, $3, $4, $5, FALSE, $6, $7, $8, $9, $10, $11, $11)",
            )
            .bind(&r.uuid)
            .bind(&r.name)
            .bind(&r.description)
            .bind(&r.url)
            .bind(r.disabled)
            .bind(&r.auth)
            .bind(&r.access_credential)
            .bind(r.skip_cert_verify)
            .bind(r.use_internal_addr)
            .bind(r.immutable)
            .bind(t)
            .execute(pool)
            .await
            .map_err(|e| conflict(e, r))?;
        });
        self.get_scanner(&r.uuid).await?.ok_or(Error::NotFound)
    }

    /// Creates the registration unless its uuid exists (then its name, description and
    /// URL are refreshed); it becomes the default when there is none. For the built-in
    /// scanner, at every start.
    pub async fn ensure_scanner(self, r: &ScannerRegistration) -> Result<()> {
        let t = DbTime(now());
        in_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE scanner_registrations SET name = $2, description = $3, url = $4 \
                 WHERE uuid = $1",
            )
            .bind(&r.uuid)
            .bind(&r.name)
            .bind(&r.description)
            .bind(&r.url)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict(e, r))?
            .rows_affected();
            if done == 0 {
                sqlx::query(
                    "INSERT INTO scanner_registrations (uuid, name, description, url, \
                     disabled, is_default, auth, access_credential, skip_cert_verify, \
                     use_internal_addr, immutable, create_time, update_time) \
                     VALUES ($1, $2, $3, $4, FALSE, FALSE, '', '', FALSE, FALSE, $5, $6, $6)",
                )
                .bind(&r.uuid)
                .bind(&r.name)
                .bind(&r.description)
                .bind(&r.url)
                .bind(r.immutable)
                .bind(t)
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict(e, r))?;
            }
            sqlx::query(
                "UPDATE scanner_registrations SET is_default = TRUE WHERE uuid = $1 \
                 AND NOT EXISTS (SELECT 1 FROM scanner_registrations WHERE is_default)",
            )
            .bind(&r.uuid)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// The registration with this uuid.
    pub async fn get_scanner(self, uuid: &str) -> Result<Option<ScannerRegistration>> {
        let sql = format!("{SELECT} WHERE uuid = $1");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
                .bind(uuid)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(Into::into))
    }

    /// The system default registration.
    pub async fn default_scanner(self) -> Result<Option<ScannerRegistration>> {
        let sql = format!("{SELECT} WHERE is_default");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(Into::into))
    }

    /// One page (1-based) of registrations by creation time, and the total.
    pub async fn list_scanners(
        self,
        q: &ScannerQuery,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<ScannerRegistration>, u64)> {
        let (limit, offset) = limit_offset(page, page_size);
        let filters = |sql: &mut Sql| {
            sql.push(" WHERE 1 = 1");
            for (column, filter) in [
                ("name", &q.name),
                ("description", &q.description),
                ("url", &q.url),
            ] {
                match filter {
                    Some((v, true)) => {
                        sql.push(&format!(" AND LOWER({column}) LIKE "))
                            .bind(Arg::Text(contains_pattern(v)))
                            .push(" ESCAPE '\\'");
                    }
                    Some((v, false)) => {
                        sql.push(&format!(" AND {column} = "))
                            .bind(Arg::Text(v.clone()));
                    }
                    None => {}
                }
            }
        };
        let mut select = Sql::new(SELECT);
        filters(&mut select);
        select
            .push(" ORDER BY create_time, uuid LIMIT ")
            .bind(Arg::I64(limit))
            .push(" OFFSET ")
            .bind(Arg::I64(offset));
        let mut count = Sql::new("SELECT COUNT(*) FROM scanner_registrations");
        filters(&mut count);
        let (rows, total) = with_pool!(self, read, |pool| {
            let rows = bind_args!(
                sqlx::query_as::<_, Row>(AssertSqlSafe(select.text)),
                select.args
            )
            .fetch_all(pool)
            .await?;
            let total: i64 = bind_args!(sqlx::query_scalar(AssertSqlSafe(count.text)), count.args)
                .fetch_one(pool)
                .await?;
            (rows, total)
        });
        Ok((rows.into_iter().map(Into::into).collect(), to_u64(total)))
    }

    /// Replaces the editable fields of a registration (not its default flag, times or
    /// immutability).
    pub async fn update_scanner(self, r: &ScannerRegistration) -> Result<()> {
        let done = with_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE scanner_registrations SET name = $2, description = $3, url = $4, \
                 disabled = $5, auth = $6, access_credential = $7, skip_cert_verify = $8, \
                 use_internal_addr = $9, update_time = $10 WHERE uuid = $1",
            )
            .bind(&r.uuid)
            .bind(&r.name)
            .bind(&r.description)
            .bind(&r.url)
            .bind(r.disabled)
            .bind(&r.auth)
            .bind(&r.access_credential)
            .bind(r.skip_cert_verify)
            .bind(r.use_internal_addr)
            .bind(DbTime(now()))
            .execute(pool)
            .await
            .map_err(|e| conflict(e, r))?
            .rows_affected()
        });
        found(done)
    }

    /// Makes this registration the one system default.
    pub async fn set_default_scanner(self, uuid: &str) -> Result<()> {
        let t = DbTime(now());
        in_tx!(self, |tx| {
            let exists: Option<String> =
                sqlx::query_scalar("SELECT uuid FROM scanner_registrations WHERE uuid = $1")
                    .bind(uuid)
                    .fetch_optional(&mut *tx)
                    .await?;
            if exists.is_none() {
                return Err(Error::NotFound);
            }
            sqlx::query(
                "UPDATE scanner_registrations SET is_default = FALSE, update_time = $1 \
                 WHERE is_default AND uuid <> $2",
            )
            .bind(t)
            .bind(uuid)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE scanner_registrations SET is_default = TRUE, update_time = $1 \
                 WHERE uuid = $2 AND NOT is_default",
            )
            .bind(t)
            .bind(uuid)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// Deletes a registration; projects that chose it fall back to the default. When it
    /// was the default, the oldest immutable (built-in) registration takes over.
    pub async fn delete_scanner(self, uuid: &str) -> Result<ScannerRegistration> {
        let Some(old) = self.get_scanner(uuid).await? else {
            return Err(Error::NotFound);
        };
        in_tx!(self, |tx| {
            let done = sqlx::query("DELETE FROM scanner_registrations WHERE uuid = $1")
                .bind(uuid)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            found(done)?;
            sqlx::query(
                "UPDATE scanner_registrations SET is_default = TRUE WHERE uuid = \
                 (SELECT uuid FROM scanner_registrations WHERE immutable \
                  ORDER BY create_time, uuid LIMIT 1) \
                 AND NOT EXISTS (SELECT 1 FROM scanner_registrations WHERE is_default)",
            )
            .execute(&mut *tx)
            .await?;
        });
        Ok(old)
    }

    /// Sets the scanner of a project; [`Error::NotFound`] when the project or the
    /// registration does not exist.
    pub async fn set_project_scanner(self, project: ProjectId, uuid: &str) -> Result<()> {
        let res = with_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO project_scanners (project_id, registration_uuid) VALUES ($1, $2) \
                 ON CONFLICT (project_id) DO UPDATE SET registration_uuid = $2",
            )
            .bind(project.0)
            .bind(uuid)
            .execute(pool)
            .await
            .map(|_| ())
        });
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_foreign_key_violation(&e) => Err(Error::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// The registration the project chose, if it chose one.
    pub async fn project_scanner(self, project: ProjectId) -> Result<Option<ScannerRegistration>> {
        let sql = format!(
            "{SELECT} WHERE uuid = (SELECT registration_uuid FROM project_scanners \
             WHERE project_id = $1)"
        );
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
                .bind(project.0)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(Into::into))
    }
}
