//! Immutable tag rules (`/api/v2.0/projects/{p}/immutabletagrules`). The store keeps each
//! rule's Harbor JSON as given; matching is the caller's.

use time::OffsetDateTime;

use crate::dbtime::{DbTime, now};
use crate::sql::with_pool;
use crate::users::found;
use crate::{Error, Policies, ProjectId, Result};

/// A stored rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ImmutableRuleRecord {
    pub id: i64,
    pub project_id: ProjectId,
    pub priority: i64,
    pub disabled: bool,
    /// The rule's selectors, action, template and params, as Harbor JSON.
    pub rule: serde_json::Value,
    pub creation_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct RuleRow {
    id: i64,
    project_id: i64,
    priority: i64,
    disabled: bool,
    rule: String,
    creation_time: DbTime,
    update_time: DbTime,
}

impl TryFrom<RuleRow> for ImmutableRuleRecord {
    type Error = Error;

    fn try_from(r: RuleRow) -> Result<Self> {
        let rule = serde_json::from_str(&r.rule)
            .map_err(|_| crate::error::corrupt("immutable rule", &r.rule))?;
        Ok(ImmutableRuleRecord {
            id: r.id,
            project_id: ProjectId(r.project_id),
            priority: r.priority,
            disabled: r.disabled,
            rule,
            creation_time: r.creation_time.0,
            update_time: r.update_time.0,
        })
    }
}

const RULE_COLUMNS: &str =
    "id, project_id, priority, disabled, rule, creation_time, update_time FROM immutable_rules";

impl Policies<'_> {
    /// The project's rules by priority, then id.
    pub async fn list_immutable_rules(
        self,
        project: ProjectId,
    ) -> Result<Vec<ImmutableRuleRecord>> {
        let sql = format!("SELECT {RULE_COLUMNS} WHERE project_id = $1 ORDER BY priority, id");
        let rows = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, RuleRow>(sqlx::AssertSqlSafe(sql))
                .bind(project.0)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(ImmutableRuleRecord::try_from)
            .collect()
    }

    /// Adds a rule; returns its id.
    pub async fn create_immutable_rule(
        self,
        project: ProjectId,
        priority: i64,
        disabled: bool,
        rule: &serde_json::Value,
    ) -> Result<i64> {
        let t = DbTime(now());
        let id = with_pool!(self, write, |pool| {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO immutable_rules (project_id, priority, disabled, rule, \
                 creation_time, update_time) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
            )
            .bind(project.0)
            .bind(priority)
            .bind(disabled)
            .bind(rule.to_string())
            .bind(t)
            .fetch_one(pool)
            .await?
        });
        Ok(id)
    }

    /// Replaces a rule of the project; [`Error::NotFound`] when it has no such rule.
    pub async fn update_immutable_rule(
        self,
        project: ProjectId,
        id: i64,
        priority: i64,
        disabled: bool,
        rule: &serde_json::Value,
    ) -> Result<()> {
        let t = DbTime(now());
        let done = with_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE immutable_rules SET priority = $3, disabled = $4, rule = $5, \
                 update_time = $6 WHERE project_id = $1 AND id = $2",
            )
            .bind(project.0)
            .bind(id)
            .bind(priority)
            .bind(disabled)
            .bind(rule.to_string())
            .bind(t)
            .execute(pool)
            .await?
            .rows_affected()
        });
        found(done)
    }

    /// Removes a rule of the project; [`Error::NotFound`] when it has no such rule.
    pub async fn delete_immutable_rule(self, project: ProjectId, id: i64) -> Result<()> {
        let done = with_pool!(self, write, |pool| {
            sqlx::query("DELETE FROM immutable_rules WHERE project_id = $1 AND id = $2")
                .bind(project.0)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(done)
    }
}
