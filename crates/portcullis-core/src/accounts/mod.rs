//! Accounts: local users, robot accounts and project members, as Harbor's API manages
//! them. Authorization and the credential caches belong to [`Access`], which this
//! service asks (and tells when a password, a secret or a role changes).

pub mod members;
pub mod robots;
pub mod users;

use std::sync::Arc;

use portcullis_meta::MetaStore;

use crate::access::Access;
use crate::audit::AuditRecorder;

pub use robots::RobotRequest;

/// Users, robots and members.
pub struct Accounts {
    pub(crate) meta: MetaStore,
    pub(crate) access: Arc<Access>,
    pub(crate) audit_log: Arc<AuditRecorder>,
    /// Whether anyone may create their own account.
    pub(crate) self_registration: bool,
}

impl Accounts {
    pub fn new(
        meta: MetaStore,
        access: Arc<Access>,
        audit_log: Arc<AuditRecorder>,
        self_registration: bool,
    ) -> Self {
        Accounts {
            meta,
            access,
            audit_log,
            self_registration,
        }
    }
}
