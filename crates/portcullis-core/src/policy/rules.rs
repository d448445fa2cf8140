//! Immutable tag rules as a service: Harbor's CRUD API and the checks that push, tag
//! moves and deletes run.

use std::sync::Arc;

use portcullis_meta::{Project, ProjectId};
use portcullis_types::{ErrorCode, RepoName};

use super::Policy;
use super::immutable::{
    CompiledRule, ImmutableRule, InvalidRule, MAX_RULES_PER_PROJECT, protecting_rule,
};
use crate::context::RequestCtx;
use crate::error::{Error, Result};

fn rule_from_record(r: portcullis_meta::ImmutableRuleRecord) -> Result<ImmutableRule> {
    let mut rule: ImmutableRule = serde_json::from_value(r.rule).map_err(Error::internal)?;
    rule.id = r.id;
    rule.priority = r.priority;
    rule.disabled = r.disabled;
    Ok(rule)
}

/// The stored form: everything but the columns kept beside it.
fn rule_json(rule: &ImmutableRule) -> serde_json::Value {
    serde_json::json!({
        "action": rule.action,
        "template": rule.template,
        "params": rule.params,
        "tag_selectors": rule.tag_selectors,
        "scope_selectors": rule.scope_selectors,
    })
}

impl From<InvalidRule> for Error {
    fn from(e: InvalidRule) -> Self {
        Error::new(ErrorCode::BadRequest, e.0)
    }
}

/// The refusal of a change to an immutable tag, in Harbor's words.
pub fn immutable_error(repo: &RepoName, tag: &str, rule: i64) -> Error {
    Error::new(
        ErrorCode::Denied,
        format!("Failed to process request due to '{repo}:{tag}' configured as immutable."),
    )
    .with_detail(serde_json::json!({ "tag": tag, "immutable_rule_id": rule }))
}

/// Harbor's API refuses a change to an immutable tag with 412 (`/v2/` says DENIED).
pub(crate) fn as_precondition(e: Error) -> Error {
    if e.code == ErrorCode::Denied {
        Error {
            code: ErrorCode::PreconditionFailed,
            ..e
        }
    } else {
        e
    }
}

impl Policy {
    /// The project's rules, by priority (needs `immutable-tag:list`).
    pub async fn list_immutable_rules(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
    ) -> Result<Vec<ImmutableRule>> {
        let (p, _) = self
            .access
            .project_for(&ctx.principal, project, is_name, "immutable-tag", "list")
            .await?;
        self.meta
            .policies()
            .list_immutable_rules(p.id)
            .await?
            .into_iter()
            .map(rule_from_record)
            .collect()
    }

    /// Adds a rule (needs `immutable-tag:create`): `400` for an invalid rule or past
    /// Harbor's limit of 15, `409` when another rule selects the same.
    pub async fn create_immutable_rule(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        rule: ImmutableRule,
    ) -> Result<(Project, i64)> {
        let (p, _) = self
            .access
            .project_for(&ctx.principal, project, is_name, "immutable-tag", "create")
            .await?;
        let rule = rule.validated()?;
        let existing = self.list_rules_of(p.id).await?;
        if existing.len() >= MAX_RULES_PER_PROJECT {
            return Err(Error::new(
                ErrorCode::BadRequest,
                format!("a project has at most {MAX_RULES_PER_PROJECT} immutable tag rules"),
            ));
        }
        if existing.iter().any(|r| r.same_selection(&rule)) {
            return Err(Error::new(
                ErrorCode::Conflict,
                "an immutable tag rule with the same selectors already exists",
            ));
        }
        let id = self
            .meta
            .policies()
            .create_immutable_rule(p.id, rule.priority, rule.disabled, &rule_json(&rule))
            .await?;
        self.rules.forget_rules(p.id.0);
        self.audit_rule(ctx, "create", &p, id);
        Ok((p, id))
    }

    /// Replaces or toggles a rule (needs `immutable-tag:update`).
    pub async fn update_immutable_rule(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        id: i64,
        rule: ImmutableRule,
    ) -> Result<Project> {
        let (p, _) = self
            .access
            .project_for(&ctx.principal, project, is_name, "immutable-tag", "update")
            .await?;
        let existing = self.list_rules_of(p.id).await?;
        let Some(current) = existing.iter().find(|r| r.id == id) else {
            return Err(rule_missing(id));
        };
        // A toggle sends only `disabled`: keep the stored selectors then.
        let rule = if rule.tag_selectors.is_empty() && rule.scope_selectors.is_empty() {
            ImmutableRule {
                disabled: rule.disabled,
                ..current.clone()
            }
        } else {
            rule.validated()?
        };
        if existing
            .iter()
            .any(|r| r.id != id && r.same_selection(&rule))
        {
            return Err(Error::new(
                ErrorCode::Conflict,
                "an immutable tag rule with the same selectors already exists",
            ));
        }
        self.meta
            .policies()
            .update_immutable_rule(p.id, id, rule.priority, rule.disabled, &rule_json(&rule))
            .await
            .map_err(|e| match e {
                portcullis_meta::Error::NotFound => rule_missing(id),
                other => other.into(),
            })?;
        self.rules.forget_rules(p.id.0);
        self.audit_rule(ctx, "update", &p, id);
        Ok(p)
    }

    /// Removes a rule (needs `immutable-tag:delete`).
    pub async fn delete_immutable_rule(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        id: i64,
    ) -> Result<Project> {
        let (p, _) = self
            .access
            .project_for(&ctx.principal, project, is_name, "immutable-tag", "delete")
            .await?;
        self.meta
            .policies()
            .delete_immutable_rule(p.id, id)
            .await
            .map_err(|e| match e {
                portcullis_meta::Error::NotFound => rule_missing(id),
                other => other.into(),
            })?;
        self.rules.forget_rules(p.id.0);
        self.audit_rule(ctx, "delete", &p, id);
        Ok(p)
    }

    /// The audit entry of a change to rule `id` of project `p`.
    fn audit_rule(&self, ctx: &RequestCtx, operation: &str, p: &Project, id: i64) {
        let resource = format!("{}/immutabletagrules/{id}", p.name);
        let actor = ctx.audit_actor();
        let project = Some(p.id.0);
        self.audit_log.action(
            &actor,
            operation,
            "immutable_rule",
            &resource,
            project,
            true,
        );
    }

    async fn list_rules_of(&self, project: ProjectId) -> Result<Vec<ImmutableRule>> {
        self.meta
            .policies()
            .list_immutable_rules(project)
            .await?
            .into_iter()
            .map(rule_from_record)
            .collect()
    }

    /// The project's enabled rules, compiled (cached).
    async fn compiled_rules(&self, project: i64) -> Result<Arc<Vec<CompiledRule>>> {
        if let Some(r) = self.rules.cached_rules(project) {
            return Ok(r);
        }
        let mut compiled = Vec::new();
        for rule in self.list_rules_of(ProjectId(project)).await? {
            if rule.disabled {
                continue;
            }
            // A stored rule that no longer compiles protects nothing rather than
            // blocking every push; it was validated when written.
            match rule.compile() {
                Ok(c) => compiled.push(c),
                Err(e) => tracing::warn!(rule = rule.id, "immutable rule skipped: {e}"),
            }
        }
        let compiled = Arc::new(compiled);
        self.rules.put_rules(project, compiled.clone());
        Ok(compiled)
    }

    /// The rule protecting `tag` of `repo`, if one does.
    pub async fn immutable_rule_for(
        &self,
        project: i64,
        repo: &RepoName,
        tag: &str,
    ) -> Result<Option<i64>> {
        let rules = self.compiled_rules(project).await?;
        Ok(protecting_rule(&rules, repo.path(), tag))
    }

    /// Refuses when any of `tags` of `repo` is protected (tag and artifact deletes).
    pub async fn check_tags_mutable<'a>(
        &self,
        project: i64,
        repo: &RepoName,
        tags: impl IntoIterator<Item = &'a str>,
    ) -> Result<()> {
        let rules = self.compiled_rules(project).await?;
        if rules.is_empty() {
            return Ok(());
        }
        for tag in tags {
            if let Some(rule) = protecting_rule(&rules, repo.path(), tag) {
                return Err(immutable_error(repo, tag, rule));
            }
        }
        Ok(())
    }
}

impl Policy {
    /// Which of these tags (of one repository) an enabled immutable rule protects
    /// (Harbor's `with_immutable_status`).
    pub async fn immutable_tags(
        &self,
        tags: &[portcullis_meta::TagRecord],
    ) -> Result<std::collections::HashSet<String>> {
        let mut out = std::collections::HashSet::new();
        let Some(first) = tags.first() else {
            return Ok(out);
        };
        let Some(repo) = self
            .meta
            .repositories()
            .get_repository_by_id(first.repository_id)
            .await?
        else {
            return Ok(out);
        };
        let rules = self.compiled_rules(repo.project_id.0).await?;
        for t in tags {
            if protecting_rule(&rules, repo.name.path(), t.name.as_str()).is_some() {
                out.insert(t.name.to_string());
            }
        }
        Ok(out)
    }
}

fn rule_missing(id: i64) -> Error {
    Error::new(
        ErrorCode::NotFound,
        format!("immutable tag rule {id} not found"),
    )
}
