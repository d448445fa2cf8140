//! The registry's metadata store: users, projects, repositories, blobs, artifacts and tags,
//! on SQLite (embedded mode) or PostgreSQL (scale-out mode).
//!
//! [`MetaStore::connect`] picks the backend from the URL and applies the schema
//! migrations. Every method behaves the same on both backends; one test suite
//! (`tests/backend.rs`) runs against each.
//!
//! Cancellation: every method is a single statement or a single transaction. Dropping a
//! call's future before it completes rolls back whatever it had written, so a cancelled
//! or retried call never leaves half a change behind.

mod adapter_scans;
mod artifacts;
mod audit;
mod blobs;
mod browse;
mod connect;
mod copy;
mod dbtime;
mod error;
mod exports;
mod ids;
mod inventories;
mod jobs;
mod labels;
mod members;
mod model;
mod outbox;
mod policy;
mod projects;
mod pulls;
mod put;
mod repositories;
mod robots;
mod rows;
mod scanners;
mod scans;
mod sql;
mod tags;
mod trust;
mod users;
mod webhooks;

#[cfg(feature = "testing")]
pub mod testing;

pub use adapter_scans::{AdapterScan, AdapterScanState};
pub use audit::{AuditEntry, AuditQuery};
pub use copy::ArtifactFilter;
pub use error::{Error, Result};
pub use exports::CveExport;
pub use ids::{ArtifactId, ProjectId, RepositoryId, TagId, UserId};
pub use jobs::{
    Enqueued, FireOutcome, Job, JobCount, JobId, JobQuery, JobState, LeaseRenewal, NewJob,
    NewSchedule, Schedule, ScheduleId, StopRequest,
};
pub use labels::{Label, LabelQuery, NewLabel};
pub use members::Member;
pub use model::{
    Artifact, ArtifactReference, BlobRecord, NewProject, NewUser, Project, ProjectQuery,
    PutManifest, PutOutcome, RepoKey, Repository, TagRecord, User,
};
pub use model::{EventWrites, NewAuditEntry, NewOutboxEvent};
pub use outbox::{OutboxBacklog, OutboxEffects, OutboxEvent, WRITER_LEASE};
pub use policy::{
    CveAllowlist, ImmutableRuleRecord, Quota, QuotaId, QuotaQuery, QuotaSort, QuotaUsage,
};
pub use robots::{NewRobot, Robot, RobotUpdate};
pub use scanners::{ScannerQuery, ScannerRegistration};
pub use scans::{FinishedScan, ReportKey, ReportStatus, ScanReport, ScannableArtifact};
pub use trust::TrustedKeyRecord;
pub use webhooks::{
    NewWebhookAttempt, NewWebhookDelivery, NewWebhookPolicy, NewWebhookTask, WEBHOOK_JOB_KIND,
    WebhookAttempt, WebhookDelivery, WebhookExecution, WebhookPolicy, WebhookTarget, WebhookTask,
};

use sqlx::{PgPool, SqlitePool};

/// The metadata store. Cheap to clone: clones share the connection pools.
#[derive(Clone, Debug)]
pub struct MetaStore {
    backend: Backend,
}

#[derive(Clone, Debug)]
enum Backend {
    /// One writer connection serialises all writes (SQLite allows one writer at a time
    /// anyway, and queueing in the pool is fairer than spinning on `SQLITE_BUSY`);
    /// readers run beside it thanks to WAL.
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
    },
    Postgres(PgPool),
}

impl MetaStore {
    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Checks that the database answers, on every pool the store uses.
    pub async fn health(&self) -> Result<()> {
        match &self.backend {
            Backend::Sqlite { writer, reader } => {
                sqlx::query("SELECT 1").execute(writer).await?;
                sqlx::query("SELECT 1").execute(reader).await?;
            }
            Backend::Postgres(pg) => {
                sqlx::query("SELECT 1").execute(pg).await?;
            }
        }
        Ok(())
    }

    /// Closes the pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { writer, reader } => {
                reader.close().await;
                writer.close().await;
            }
            Backend::Postgres(pg) => pg.close().await,
        }
    }
}
