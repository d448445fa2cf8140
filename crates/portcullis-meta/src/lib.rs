//! The registry's metadata store: users, projects, repositories, blobs, artifacts and tags,
//! on SQLite (embedded mode) or PostgreSQL (scale-out mode).
//!
//! [`MetaStore::connect`] picks the backend from the URL and applies the schema
//! migrations. Every method behaves the same on both backends; one test suite
//! (`tests/backend.rs`) runs against each.
//!
//! Facets: [`MetaStore`] itself only opens, checks and closes the store. Its queries live
//! on facets, one per domain, each handed out by an accessor:
//! `meta.projects().get_project(id)`, `meta.jobs().claim_jobs(..)`. One type per job
//! keeps every type small enough to read whole, where a single store type had grown to
//! some 160 methods. A facet is a `Copy` view that borrows the store, so getting one costs
//! nothing; its methods take `self` by value, so the future of a call borrows the store,
//! not the facet, and can be kept or joined like any other. A facet's methods live in
//! the modules of its domain, and a facet that needs another's query goes through
//! `self.meta` like any caller.
//!
//! | facet | domain | modules |
//! | --- | --- | --- |
//! | [`Users`] | user accounts | `users`, `browse` |
//! | [`Robots`] | robot accounts | `robots` |
//! | [`Members`] | project members and roles | `members` |
//! | [`Projects`] | projects and their metadata | `projects` |
//! | [`Repositories`] | repositories | `repositories`, `browse` |
//! | [`Artifacts`] | pushes, lookups, copies, pulls | `artifacts`, `put`, `copy`, `pulls` |
//! | [`Tags`] | tags | `tags`, `browse` |
//! | [`Blobs`] | blobs and their links to repositories | `blobs` |
//! | [`Labels`] | labels and the artifacts carrying them | `labels` |
//! | [`Policies`] | CVE allowlists, immutable-tag rules | `policy::{allowlists, immutable}` |
//! | [`Quotas`] | storage quotas and usage | `policy::quotas` |
//! | [`Scanners`] | scanner registrations | `scanners` |
//! | [`Scans`] | scan reports, layer inventories | `scans`, `inventories` |
//! | [`AdapterScans`] | scans requested through the adapter API | `adapter_scans` |
//! | [`CveExports`] | CVE exports | `exports` |
//! | [`Trust`] | trusted signing keys | `trust` |
//! | [`Jobs`] | the job queue | `jobs::{queue, query}` |
//! | [`Schedules`] | cron schedules | `jobs::schedules` |
//! | [`Webhooks`] | webhook policies and deliveries | `webhooks` |
//! | [`Outbox`] | the event outbox | `outbox` |
//! | [`Audit`] | the audit log | `audit` |
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
pub use put::StoredReferences;
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
pub use robots::{NewRobot, Robot, RobotScope, RobotUpdate};
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

// The facets: each is a view of the store with the queries of one domain.

/// User accounts: creation, lookup, search, passwords and profiles. Got from
/// [`MetaStore::users`].
#[derive(Clone, Copy, Debug)]
pub struct Users<'a> {
    meta: &'a MetaStore,
}

/// Robot accounts and their secrets. Got from [`MetaStore::robots`].
#[derive(Clone, Copy, Debug)]
pub struct Robots<'a> {
    meta: &'a MetaStore,
}

/// Project members and their roles. Got from [`MetaStore::members`].
#[derive(Clone, Copy, Debug)]
pub struct Members<'a> {
    meta: &'a MetaStore,
}

/// Projects and their metadata. Got from [`MetaStore::projects`].
#[derive(Clone, Copy, Debug)]
pub struct Projects<'a> {
    meta: &'a MetaStore,
}

/// Repositories: lookup, creation on first push, listings and the catalog. Got from
/// [`MetaStore::repositories`].
#[derive(Clone, Copy, Debug)]
pub struct Repositories<'a> {
    meta: &'a MetaStore,
}

/// Artifacts: pushed manifests, lookups, references, copies, pulls and deletion. Got from
/// [`MetaStore::artifacts`].
#[derive(Clone, Copy, Debug)]
pub struct Artifacts<'a> {
    meta: &'a MetaStore,
}

/// Tags: listing, lookup, creation and deletion. Got from [`MetaStore::tags`].
#[derive(Clone, Copy, Debug)]
pub struct Tags<'a> {
    meta: &'a MetaStore,
}

/// Blobs and their links to repositories. Got from [`MetaStore::blobs`].
#[derive(Clone, Copy, Debug)]
pub struct Blobs<'a> {
    meta: &'a MetaStore,
}

/// Labels and the artifacts that carry them. Got from [`MetaStore::labels`].
#[derive(Clone, Copy, Debug)]
pub struct Labels<'a> {
    meta: &'a MetaStore,
}

/// Project policies: CVE allowlists and immutable-tag rules. Got from
/// [`MetaStore::policies`].
#[derive(Clone, Copy, Debug)]
pub struct Policies<'a> {
    meta: &'a MetaStore,
}

/// Storage quotas and their usage. Got from [`MetaStore::quotas`].
#[derive(Clone, Copy, Debug)]
pub struct Quotas<'a> {
    meta: &'a MetaStore,
}

/// Scanner registrations, the default scanner and each project's choice. Got from
/// [`MetaStore::scanners`].
#[derive(Clone, Copy, Debug)]
pub struct Scanners<'a> {
    meta: &'a MetaStore,
}

/// Vulnerability scan reports and the layer inventory cache. Got from [`MetaStore::scans`].
#[derive(Clone, Copy, Debug)]
pub struct Scans<'a> {
    meta: &'a MetaStore,
}

/// Scans requested of Portcullis acting as a scanner adapter. Got from
/// [`MetaStore::adapter_scans`].
#[derive(Clone, Copy, Debug)]
pub struct AdapterScans<'a> {
    meta: &'a MetaStore,
}

/// CVE exports and their state. Got from [`MetaStore::cve_exports`].
#[derive(Clone, Copy, Debug)]
pub struct CveExports<'a> {
    meta: &'a MetaStore,
}

/// Trusted signing keys per project. Got from [`MetaStore::trust`].
#[derive(Clone, Copy, Debug)]
pub struct Trust<'a> {
    meta: &'a MetaStore,
}

/// The job queue: enqueueing, claiming, leases, outcomes and listings. Got from
/// [`MetaStore::jobs`].
#[derive(Clone, Copy, Debug)]
pub struct Jobs<'a> {
    meta: &'a MetaStore,
}

/// Cron schedules that enqueue jobs. Got from [`MetaStore::schedules`].
#[derive(Clone, Copy, Debug)]
pub struct Schedules<'a> {
    meta: &'a MetaStore,
}

/// Webhook policies, deliveries and attempts. Got from [`MetaStore::webhooks`].
#[derive(Clone, Copy, Debug)]
pub struct Webhooks<'a> {
    meta: &'a MetaStore,
}

/// The event outbox. Got from [`MetaStore::outbox`].
#[derive(Clone, Copy, Debug)]
pub struct Outbox<'a> {
    meta: &'a MetaStore,
}

/// The audit log. Got from [`MetaStore::audit`].
#[derive(Clone, Copy, Debug)]
pub struct Audit<'a> {
    meta: &'a MetaStore,
}

impl MetaStore {
    /// User accounts: creation, lookup, search, passwords and profiles.
    pub fn users(&self) -> Users<'_> {
        Users { meta: self }
    }

    /// Robot accounts and their secrets.
    pub fn robots(&self) -> Robots<'_> {
        Robots { meta: self }
    }

    /// Project members and their roles.
    pub fn members(&self) -> Members<'_> {
        Members { meta: self }
    }

    /// Projects and their metadata.
    pub fn projects(&self) -> Projects<'_> {
        Projects { meta: self }
    }

    /// Repositories: lookup, creation on first push, listings and the catalog.
    pub fn repositories(&self) -> Repositories<'_> {
        Repositories { meta: self }
    }

    /// Artifacts: pushed manifests, lookups, references, copies, pulls and deletion.
    pub fn artifacts(&self) -> Artifacts<'_> {
        Artifacts { meta: self }
    }

    /// Tags: listing, lookup, creation and deletion.
    pub fn tags(&self) -> Tags<'_> {
        Tags { meta: self }
    }

    /// Blobs and their links to repositories.
    pub fn blobs(&self) -> Blobs<'_> {
        Blobs { meta: self }
    }

    /// Labels and the artifacts that carry them.
    pub fn labels(&self) -> Labels<'_> {
        Labels { meta: self }
    }

    /// Project policies: CVE allowlists and immutable-tag rules.
    pub fn policies(&self) -> Policies<'_> {
        Policies { meta: self }
    }

    /// Storage quotas and their usage.
    pub fn quotas(&self) -> Quotas<'_> {
        Quotas { meta: self }
    }

    /// Scanner registrations, the default scanner and each project's choice.
    pub fn scanners(&self) -> Scanners<'_> {
        Scanners { meta: self }
    }

    /// Vulnerability scan reports and the layer inventory cache.
    pub fn scans(&self) -> Scans<'_> {
        Scans { meta: self }
    }

    /// Scans requested of Portcullis acting as a scanner adapter.
    pub fn adapter_scans(&self) -> AdapterScans<'_> {
        AdapterScans { meta: self }
    }

    /// CVE exports and their state.
    pub fn cve_exports(&self) -> CveExports<'_> {
        CveExports { meta: self }
    }

    /// Trusted signing keys per project.
    pub fn trust(&self) -> Trust<'_> {
        Trust { meta: self }
    }

    /// The job queue: enqueueing, claiming, leases, outcomes and listings.
    pub fn jobs(&self) -> Jobs<'_> {
        Jobs { meta: self }
    }

    /// Cron schedules that enqueue jobs.
    pub fn schedules(&self) -> Schedules<'_> {
        Schedules { meta: self }
    }

    /// Webhook policies, deliveries and attempts.
    pub fn webhooks(&self) -> Webhooks<'_> {
        Webhooks { meta: self }
    }

    /// The event outbox.
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox { meta: self }
    }

    /// The audit log.
    pub fn audit(&self) -> Audit<'_> {
        Audit { meta: self }
    }

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
