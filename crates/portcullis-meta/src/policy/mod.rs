//! Pull-gate policy records: immutable tag rules, storage quotas and CVE allowlists.

mod allowlists;
mod immutable;
pub(crate) mod quotas;

pub use allowlists::CveAllowlist;
pub use immutable::ImmutableRuleRecord;
pub use quotas::{Quota, QuotaId, QuotaQuery, QuotaSort, QuotaUsage};
pub(crate) use quotas::{lock_quota, release_sql, settle_usage};
