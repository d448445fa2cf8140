//! Webhook policies of projects, and their deliveries (Harbor's executions and tasks).

mod deliveries;
pub(crate) use deliveries::insert_deliveries;

pub use deliveries::{
    NewWebhookAttempt, NewWebhookDelivery, NewWebhookTask, WEBHOOK_JOB_KIND, WebhookAttempt,
    WebhookDelivery, WebhookExecution, WebhookTask,
};

use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use crate::dbtime::{DbTime, now};
use crate::error::{corrupt, is_foreign_key_violation, is_unique_violation};
use crate::sql::with_pool;
use crate::{Error, ProjectId, Result, Webhooks};

/// Where a policy sends its events (Harbor's `WebhookTargetObject`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookTarget {
    /// `http` or `slack`.
    #[serde(rename = "type")]
    pub notify_type: String,
    pub address: String,
    /// Sent as the `Authorization` header when not empty.
    #[serde(default)]
    pub auth_header: String,
    #[serde(default)]
    pub skip_cert_verify: bool,
    /// `Default` or `CloudEvents`.
    #[serde(default)]
    pub payload_format: String,
}

/// A project's webhook policy.
#[derive(Clone, PartialEq)]
pub struct WebhookPolicy {
    pub id: i64,
    pub project_id: ProjectId,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub event_types: Vec<String>,
    pub targets: Vec<WebhookTarget>,
    /// Key of the HMAC-SHA256 body signature; never shown through the API.
    pub secret: Option<String>,
    pub creator: String,
    pub creation_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

impl std::fmt::Debug for WebhookPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookPolicy")
            .field("id", &self.id)
            .field("project_id", &self.project_id)
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .field("event_types", &self.event_types)
            .finish_non_exhaustive()
    }
}

/// What creating or replacing a policy needs.
#[derive(Clone)]
pub struct NewWebhookPolicy {
    pub project_id: ProjectId,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub event_types: Vec<String>,
    pub targets: Vec<WebhookTarget>,
    pub secret: Option<String>,
    pub creator: String,
}

#[derive(sqlx::FromRow)]
struct PolicyRow {
    id: i64,
    project_id: i64,
    name: String,
    description: String,
    enabled: bool,
    event_types: String,
    targets: String,
    secret: Option<String>,
    creator: String,
    creation_time: DbTime,
    update_time: DbTime,
}

impl TryFrom<PolicyRow> for WebhookPolicy {
    type Error = Error;

    fn try_from(r: PolicyRow) -> Result<Self> {
        Ok(WebhookPolicy {
            id: r.id,
            project_id: ProjectId(r.project_id),
            event_types: serde_json::from_str(&r.event_types)
                .map_err(|_| corrupt("webhook event types", &r.event_types))?,
            targets: serde_json::from_str(&r.targets)
                .map_err(|_| corrupt("webhook targets", &r.targets))?,
            name: r.name,
            description: r.description,
            enabled: r.enabled,
            secret: r.secret,
            creator: r.creator,
            creation_time: r.creation_time.0,
            update_time: r.update_time.0,
        })
    }
}

const POLICY_SELECT: &str = "SELECT id, project_id, name, description, enabled, event_types, \
     targets, secret, creator, creation_time, update_time FROM webhook_policies";

fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Invalid(e.to_string()))
}

fn name_taken(e: sqlx::Error) -> Error {
    if is_unique_violation(&e) {
        Error::Conflict("a webhook policy with this name already exists in the project".into())
    } else if is_foreign_key_violation(&e) {
        Error::NotFound
    } else {
        e.into()
    }
}

impl Webhooks<'_> {
    /// Adds a policy. [`Error::Conflict`] when the project has one of that name.
    pub async fn create_webhook_policy(self, new: &NewWebhookPolicy) -> Result<WebhookPolicy> {
        let t = DbTime(now());
        let (events, targets) = (json(&new.event_types)?, json(&new.targets)?);
        let id = with_pool!(self, write, |pool| {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO webhook_policies (project_id, name, description, enabled, \
                 event_types, targets, secret, creator, creation_time, update_time) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
            )
            .bind(new.project_id.0)
            .bind(&new.name)
            .bind(&new.description)
            .bind(new.enabled)
            .bind(&events)
            .bind(&targets)
            .bind(&new.secret)
            .bind(&new.creator)
            .bind(t)
            .fetch_one(pool)
            .await
            .map_err(name_taken)?
        });
        self.get_webhook_policy(new.project_id, id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// The policies of `project`, or of every project, by id.
    pub async fn list_webhook_policies(
        self,
        project: Option<ProjectId>,
    ) -> Result<Vec<WebhookPolicy>> {
        let sql = match project {
            Some(_) => format!("{POLICY_SELECT} WHERE project_id = $1 ORDER BY id"),
            None => format!("{POLICY_SELECT} WHERE project_id <> $1 ORDER BY id"),
        };
        let rows = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, PolicyRow>(AssertSqlSafe(sql))
                .bind(project.map_or(-1, |p| p.0))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(WebhookPolicy::try_from).collect()
    }

    /// One policy of `project`.
    pub async fn get_webhook_policy(
        self,
        project: ProjectId,
        id: i64,
    ) -> Result<Option<WebhookPolicy>> {
        let sql = format!("{POLICY_SELECT} WHERE project_id = $1 AND id = $2");
        let row = with_pool!(self, write, |pool| {
            sqlx::query_as::<_, PolicyRow>(AssertSqlSafe(sql))
                .bind(project.0)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(WebhookPolicy::try_from).transpose()
    }

    /// Replaces every field of a policy but its creator and creation time.
    /// [`Error::NotFound`] when `project` has no policy `id`.
    pub async fn update_webhook_policy(self, id: i64, new: &NewWebhookPolicy) -> Result<()> {
        let t = DbTime(now());
        let (events, targets) = (json(&new.event_types)?, json(&new.targets)?);
        let n = with_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE webhook_policies SET name = $1, description = $2, enabled = $3, \
                 event_types = $4, targets = $5, secret = $6, update_time = $7 \
                 WHERE id = $8 AND project_id = $9",
            )
            .bind(&new.name)
            .bind(&new.description)
            .bind(new.enabled)
            .bind(&events)
            .bind(&targets)
            .bind(&new.secret)
            .bind(t)
            .bind(id)
            .bind(new.project_id.0)
            .execute(pool)
            .await
            .map_err(name_taken)?
            .rows_affected()
        });
        crate::users::found(n)
    }

    /// Deletes a policy with its executions, tasks and attempts. Their queued jobs find
    /// no task when they run and end at once.
    pub async fn delete_webhook_policy(self, project: ProjectId, id: i64) -> Result<()> {
        let n = with_pool!(self, write, |pool| {
            sqlx::query("DELETE FROM webhook_policies WHERE project_id = $1 AND id = $2")
                .bind(project.0)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        crate::users::found(n)
    }

    /// The latest execution time per policy and event type of `project` (Harbor's
    /// `lasttrigger`).
    pub async fn webhook_last_triggers(
        self,
        project: ProjectId,
    ) -> Result<Vec<(i64, String, OffsetDateTime)>> {
        let rows = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, (i64, String, DbTime)>(
                "SELECT e.policy_id, e.event_type, MAX(e.start_time) FROM webhook_executions e \
                 JOIN webhook_policies p ON p.id = e.policy_id WHERE p.project_id = $1 \
                 GROUP BY e.policy_id, e.event_type ORDER BY e.policy_id, e.event_type",
            )
            .bind(project.0)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(|(p, e, t)| (p, e, t.0)).collect())
    }
}
