//! Request bodies as Harbor sends them: the Default payload, CloudEvents 1.0 (structured
//! JSON) and a Slack incoming-webhook message.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::events::Event;

/// Content type of CloudEvents bodies.
pub const CLOUDEVENTS_CONTENT_TYPE: &str = "application/cloudevents+json";

/// What rendering needs beyond the event.
pub struct Context<'a> {
    /// Host (and port) clients pull from, as in `resource_url`.
    pub host: &'a str,
    /// The repository's creation time (Unix seconds), when known.
    pub repo_created: Option<i64>,
}

/// Harbor's `event_data`: resources, repository and custom attributes.
pub fn event_data(e: &Event, ctx: &Context<'_>) -> Value {
    let mut data = Map::new();
    if !e.resources.is_empty() {
        let resources: Vec<Value> = e
            .resources
            .iter()
            .map(|r| {
                let tag = r.tag.clone().unwrap_or_default();
                let url = if tag.is_empty() {
                    format!("{}/{}@{}", ctx.host, e.repository, r.digest)
                } else {
                    format!("{}/{}:{}", ctx.host, e.repository, tag)
                };
                let mut o = json!({ "digest": r.digest, "tag": tag, "resource_url": url });
                if let Some(s) = &r.scan_overview {
                    o["scan_overview"] = s.clone();
                }
                o
            })
            .collect();
        data.insert("resources".into(), Value::Array(resources));
    }
    if !e.repository.is_empty() {
        let name = e
            .repository
            .strip_prefix(&format!("{}/", e.project.name))
            .unwrap_or(&e.repository);
        let mut repo = json!({
            "name": name,
            "namespace": e.project.name,
            "repo_full_name": e.repository,
            "repo_type": if e.project.public { "public" } else { "private" },
        });
        if let Some(t) = ctx.repo_created {
            repo["date_created"] = json!(t);
        }
        data.insert("repository".into(), repo);
    }
    if !e.custom_attributes.is_empty() {
        data.insert("custom_attributes".into(), json!(e.custom_attributes));
    }
    Value::Object(data)
}

/// Harbor's Default payload.
pub fn default_payload(e: &Event, data: Value) -> Value {
    json!({
        "type": e.kind.as_str(),
        "occur_at": e.occur_at.unix_timestamp(),
        "operator": e.operator,
        "event_data": data,
    })
}

/// A CloudEvents 1.0 event in structured JSON mode, with Harbor's extensions.
pub fn cloudevent(e: &Event, data: Value, project_id: i64, policy_id: i64) -> Value {
    json!({
        "specversion": "1.0",
        "id": uuid::Uuid::new_v4().to_string(),
        "requestid": e.request_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        "source": format!("/projects/{project_id}/webhook/policies/{policy_id}"),
        "type": e.kind.cloudevents_type(),
        "datacontenttype": "application/json",
        "time": rfc3339(e.occur_at),
        "data": data,
        "operator": e.operator,
    })
}

/// A Slack message: a one-line `text` (notifications, clients without blocks) and a
/// section with the details.
pub fn slack(e: &Event, data: &Value) -> Value {
    let mut lines = vec![format!("*Event:* `{}`", e.kind.as_str())];
    lines.push(format!("*Project:* {}", e.project.name));
    if let Some(repo) = data.get("repository") {
        lines.push(format!(
            "*Repository:* {} ({})",
            repo["repo_full_name"].as_str().unwrap_or_default(),
            repo["repo_type"].as_str().unwrap_or_default()
        ));
    }
    for r in data["resources"].as_array().into_iter().flatten() {
        lines.push(format!(
            "*Artifact:* `{}`",
            r["resource_url"].as_str().unwrap_or_default()
        ));
        lines.push(format!(
            "*Digest:* `{}`",
            r["digest"].as_str().unwrap_or_default()
        ));
    }
    for (k, v) in &e.custom_attributes {
        lines.push(format!("*{k}:* {v}"));
    }
    lines.push(format!("*Operator:* {}", e.operator));
    lines.push(format!("*Time:* {}", rfc3339(e.occur_at)));
    let title = match e.repository.as_str() {
        "" => format!("{} in project {}", e.kind.as_str(), e.project.name),
        repo => format!("{} on {repo} by {}", e.kind.as_str(), e.operator),
    };
    json!({
        "text": title,
        "blocks": [
            { "type": "header", "text": { "type": "plain_text", "text": "Portcullis registry event" } },
            { "type": "section", "text": { "type": "mrkdwn", "text": lines.join("\n") } },
        ],
    })
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventProject, EventType};

    fn push() -> Event {
        Event::artifact(
            EventType::PushArtifact,
            EventProject {
                id: 3,
                name: "team".into(),
                public: false,
            },
            "team/app/web",
            "sha256:ab",
            Some("1.0"),
            "alice",
        )
    }

    #[test]
    fn default_payload_has_harbor_fields() {
        let e = push();
        let ctx = Context {
            host: "reg.example:5000",
            repo_created: Some(1700000000),
        };
        let p = default_payload(&e, event_data(&e, &ctx));
        assert_eq!(p["type"], "PUSH_ARTIFACT");
        assert_eq!(p["operator"], "alice");
        let r = &p["event_data"]["resources"][0];
        assert_eq!(r["resource_url"], "reg.example:5000/team/app/web:1.0");
        let repo = &p["event_data"]["repository"];
        assert_eq!(repo["name"], "app/web");
        assert_eq!(repo["namespace"], "team");
        assert_eq!(repo["repo_type"], "private");
        assert_eq!(repo["date_created"], 1700000000);
        assert!(p["event_data"].get("custom_attributes").is_none());
    }

    #[test]
    fn cloudevents_carry_source_and_fresh_ids() {
        let e = push();
        let ctx = Context {
            host: "h",
            repo_created: None,
        };
        let a = cloudevent(&e, event_data(&e, &ctx), 3, 9);
        let b = cloudevent(&e, event_data(&e, &ctx), 3, 9);
        assert_eq!(a["source"], "/projects/3/webhook/policies/9");
        assert_eq!(a["type"], "harbor.artifact.pushed");
        assert_ne!(a["id"], b["id"]);
        assert_eq!(a["data"]["resources"][0]["tag"], "1.0");
    }

    /// Every type, in both formats, as the scanning, quota, replication and retention
    /// features will emit them (their end-to-end tests arrive with those features).
    #[test]
    fn every_event_type_renders_in_both_formats() {
        let ctx = Context {
            host: "reg:5000",
            repo_created: Some(1),
        };
        for kind in EventType::ALL {
            let mut e = push();
            e.kind = kind;
            let e = match kind {
                EventType::ScanningCompleted
                | EventType::ScanningFailed
                | EventType::ScanningStopped => e.with_scan_overview(json!({
                    "application/vnd.security.vulnerability.report; version=1.1":
                        { "scan_status": "Success", "severity": "High" }
                })),
                EventType::QuotaExceed | EventType::QuotaWarning => {
                    e.with_attribute("Details", "storage 9 of 10 GiB")
                }
                _ => e,
            };
            let data = event_data(&e, &ctx);
            let d = default_payload(&e, data.clone());
            assert_eq!(d["type"], kind.as_str());
            assert_eq!(
                d["event_data"]["repository"]["repo_full_name"],
                "team/app/web"
            );
            let c = cloudevent(&e, data, 3, 4);
            assert_eq!(c["type"], kind.cloudevents_type());
            assert_eq!(c["data"], d["event_data"], "{kind}");
            match kind {
                EventType::ScanningCompleted
                | EventType::ScanningFailed
                | EventType::ScanningStopped => {
                    let o = &d["event_data"]["resources"][0]["scan_overview"];
                    assert!(o.is_object(), "{kind}: {d}");
                }
                EventType::QuotaExceed | EventType::QuotaWarning => {
                    let a = &d["event_data"]["custom_attributes"]["Details"];
                    assert_eq!(a, "storage 9 of 10 GiB");
                }
                _ => assert!(
                    d["event_data"]["resources"][0]
                        .get("scan_overview")
                        .is_none()
                ),
            }
        }
    }

    #[test]
    fn slack_message_is_readable() {
        let e = push().with_attribute("Details", "over quota");
        let ctx = Context {
            host: "h",
            repo_created: None,
        };
        let m = slack(&e, &event_data(&e, &ctx));
        assert_eq!(m["text"], "PUSH_ARTIFACT on team/app/web by alice");
        let body = m["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(body.contains("*Artifact:* `h/team/app/web:1.0`"), "{body}");
        assert!(body.contains("*Details:* over quota"), "{body}");
    }
}
