//! Who is acting. Every service call that reads or changes state on a caller's behalf
//! takes one [`RequestCtx`], so that authorization, the audit entry and the events of the
//! change are decided inside the call from the same facts, not pieced together by
//! handlers.

use crate::audit::Actor;
use crate::auth::Principal;

/// The caller of one request (or a system actor, for scheduled work).
#[derive(Debug, Clone)]
pub struct RequestCtx {
    pub principal: Principal,
    /// The name the audit log and events record (`anonymous`, a user, a robot).
    pub actor: String,
    /// The client's address (after trusted proxy headers).
    pub client_ip: String,
    /// `X-Request-Id` of the request (events carry it as CloudEvents `requestid`).
    pub request_id: Option<String>,
    /// The `Host` the client reached the registry at (`resource_url` without an
    /// external URL).
    pub host: Option<String>,
}

impl RequestCtx {
    /// The context of a request by `principal` from `client_ip`; the request id is the
    /// one being served by this task, if any.
    pub fn new(principal: Principal, client_ip: impl Into<String>, host: Option<String>) -> Self {
        let actor = principal.username().unwrap_or("anonymous").to_string();
        RequestCtx {
            principal,
            actor,
            client_ip: client_ip.into(),
            request_id: crate::request_id::current(),
            host,
        }
    }

    /// The actor as the audit log records it.
    pub fn audit_actor(&self) -> Actor {
        Actor {
            username: self.actor.clone(),
            client_ip: self.client_ip.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn anonymous_callers_are_named_and_the_request_id_is_taken() {
        let ctx = crate::request_id::scope("req-7".into(), async {
            RequestCtx::new(Principal::Anonymous, "10.0.0.1", Some("reg:5000".into()))
        })
        .await;
        assert_eq!(ctx.actor, "anonymous");
        assert_eq!(ctx.request_id.as_deref(), Some("req-7"));
        assert_eq!(ctx.audit_actor().client_ip, "10.0.0.1");
    }
}
