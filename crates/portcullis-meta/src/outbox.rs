//! The outbox of durable events. A state change writes its events with
//! [`insert_outbox!`] inside its own transaction; after commit the dispatcher (in core)
//! claims them, works out each subscriber's effects, and [`Outbox::complete_outbox`]
//! deletes each event in the transaction that writes those effects. So an event is either
//! pending here or done, never half-handled, and a crash at any instant loses none.

use std::time::Duration;

use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use crate::audit::insert_audit;
use crate::dbtime::{DbTime, now};
use crate::model::NewOutboxEvent;
use crate::sql::{Arg, Sql, bind_args, in_tx, with_pool};
use crate::webhooks::insert_deliveries;
use crate::{NewAuditEntry, NewWebhookDelivery, Outbox, Result, WEBHOOK_JOB_KIND};

/// How long the writer of an event keeps it before the background dispatcher may take it:
/// the request that caused it hands it to subscribers itself, right after commit (in
/// milliseconds), so after a crash its events wait this long at most before recovery.
pub const WRITER_LEASE: Duration = Duration::from_secs(5);

/// A pending event, as a dispatcher claims it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub id: i64,
    pub event_id: String,
    pub kind: String,
    pub project_id: i64,
    pub payload: String,
    /// Claims so far, this one included.
    pub attempts: u32,
}

/// What subscribers do about one event, written when the event is completed.
#[derive(Debug, Clone, Default)]
pub struct OutboxEffects {
    pub event_id: String,
    pub audit: Vec<NewAuditEntry>,
    pub webhooks: Vec<NewWebhookDelivery>,
}

/// Pending events: how many, and when the oldest was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxBacklog {
    pub pending: u64,
    pub oldest: Option<OffsetDateTime>,
}

/// Inside a transaction: writes `events` (a slice of [`NewOutboxEvent`]), leased to the
/// writer for [`WRITER_LEASE`].
macro_rules! insert_outbox {
    ($tx:ident, $events:expr, $t:expr) => {{
        let lease = $crate::dbtime::DbTime($t.0 + $crate::outbox::WRITER_LEASE);
        for e in $events.iter() {
            sqlx::query(
                "INSERT INTO outbox (event_id, kind, project_id, payload, created_at, \
                 lease_until, attempts) VALUES ($1, $2, $3, $4, $5, $6, 1)",
            )
            .bind(&e.event_id)
            .bind(&e.kind)
            .bind(e.project_id)
            .bind(&e.payload)
            .bind($t)
            .bind(lease)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}
pub(crate) use insert_outbox;

/// Inside a transaction: writes an [`crate::EventWrites`] (outbox rows and audit entries).
macro_rules! insert_event_writes {
    ($tx:ident, $writes:expr, $t:expr) => {{
        let writes: &$crate::EventWrites = $writes;
        $crate::outbox::insert_outbox!($tx, writes.outbox, $t);
        $crate::audit::insert_audit!($tx, writes.audit);
    }};
}
pub(crate) use insert_event_writes;

/// An outbox row as selected: id, event id, kind, project, payload, attempts.
type OutboxRow = (i64, String, String, i64, String, i32);

fn events_of(rows: Vec<OutboxRow>) -> Vec<OutboxEvent> {
    rows.into_iter()
        .map(
            |(id, event_id, kind, project_id, payload, attempts)| OutboxEvent {
                id,
                event_id,
                kind,
                project_id,
                payload,
                attempts: attempts.max(0) as u32,
            },
        )
        .collect()
}

impl Outbox<'_> {
    /// Writes events on their own (changes whose transaction lives elsewhere).
    pub async fn insert_outbox(self, events: &[NewOutboxEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let t = DbTime(now());
        in_tx!(self, |tx| {
            insert_outbox!(tx, events, t);
        });
        Ok(())
    }

    /// Claims up to `limit` events whose lease ran out (oldest first), leasing them for
    /// `lease`. On PostgreSQL concurrent dispatchers skip each other's rows.
    pub async fn claim_outbox(self, limit: u32, lease: Duration) -> Result<Vec<OutboxEvent>> {
        let t = now();
        let skip_locked = if self.meta.backend_name() == "postgres" {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE outbox SET lease_until = $1, attempts = attempts + 1 WHERE id IN \
             (SELECT id FROM outbox WHERE lease_until <= $2 ORDER BY id LIMIT $3{skip_locked}) \
             RETURNING id, event_id, kind, project_id, payload, attempts"
        );
        let rows: Vec<OutboxRow> = with_pool!(self, write, |pool| {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(DbTime(t + lease))
                .bind(DbTime(t))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        let mut out = events_of(rows);
        out.sort_by_key(|e| e.id);
        Ok(out)
    }

    /// Reads pending events by id without claiming them (the writer of an event, which
    /// holds its lease, hands it over itself).
    pub async fn outbox_events(self, event_ids: &[String]) -> Result<Vec<OutboxEvent>> {
        if event_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT id, event_id, kind, project_id, payload, attempts FROM outbox \
             WHERE event_id IN ",
        );
        q.bind_list(event_ids.iter().map(|e| Arg::Text(e.clone())))
            .push(" ORDER BY id");
        let rows: Vec<OutboxRow> = with_pool!(self, write, |pool| {
            bind_args!(sqlx::query_as(AssertSqlSafe(q.text)), q.args)
                .fetch_all(pool)
                .await?
        });
        Ok(events_of(rows))
    }

    /// Completes events: in one transaction, each event still pending is deleted and its
    /// effects written. An event another dispatcher completed first is skipped whole, so
    /// effects are written exactly once. Returns how many events this call completed.
    pub async fn complete_outbox(self, done: &[OutboxEffects]) -> Result<usize> {
        if done.is_empty() {
            return Ok(0);
        }
        let t = DbTime(now());
        let mut completed = 0;
        in_tx!(self, |tx| {
            for d in done {
                let gone = sqlx::query("DELETE FROM outbox WHERE event_id = $1")
                    .bind(&d.event_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if gone == 0 {
                    continue;
                }
                completed += 1;
                insert_audit!(tx, d.audit);
                insert_deliveries!(tx, &d.webhooks, t);
            }
        });
        Ok(completed)
    }

    /// Puts claimed events back, to be tried again no sooner than `after`.
    pub async fn release_outbox(self, event_ids: &[String], after: Duration) -> Result<()> {
        if event_ids.is_empty() {
            return Ok(());
        }
        let mut q = Sql::new("UPDATE outbox SET lease_until = ");
        q.bind(Arg::Time(DbTime(now() + after)))
            .push(" WHERE event_id IN ")
            .bind_list(event_ids.iter().map(|e| Arg::Text(e.clone())));
        with_pool!(self, write, |pool| {
            bind_args!(sqlx::query(AssertSqlSafe(q.text)), q.args)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// How many events are pending and how old the oldest is (metrics, tests).
    pub async fn outbox_backlog(self) -> Result<OutboxBacklog> {
        let (pending, oldest): (i64, Option<DbTime>) = with_pool!(self, read, |pool| {
            sqlx::query_as("SELECT COUNT(*), MIN(created_at) FROM outbox")
                .fetch_one(pool)
                .await?
        });
        Ok(OutboxBacklog {
            pending: pending.max(0) as u64,
            oldest: oldest.map(|t| t.0),
        })
    }
}
