//! The runner: claims due jobs for its workers, fires due schedules, and shuts down.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use portcullis_meta::{
    Enqueued, FireOutcome, JobId, MetaStore, NewJob, NewSchedule, Schedule, StopRequest,
};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

mod execute;

use crate::worker::DynWorker;
use crate::{Result, RunnerConfig, Worker, next_run_after};
use execute::{CANCEL_SHUTDOWN, CANCEL_STOP, Slot, execute};

/// Schedules fired per poll; more due ones wait for the next poll.
const SCHEDULES_PER_POLL: u32 = 32;

/// A runner being set up: register a worker per kind, then [`Runner::start`].
pub struct Runner {
    store: MetaStore,
    config: RunnerConfig,
    workers: BTreeMap<String, Arc<dyn DynWorker>>,
}

impl Runner {
    /// A runner on `store` with no workers yet.
    pub fn new(store: MetaStore, config: RunnerConfig) -> Self {
        Runner {
            store,
            config,
            workers: BTreeMap::new(),
        }
    }

    /// Runs jobs of `kind` with `worker` (replacing any earlier worker of that kind).
    /// Jobs of kinds without a worker stay queued for runners that have one.
    pub fn register(mut self, kind: impl Into<String>, worker: impl Worker) -> Self {
        self.workers.insert(kind.into(), Arc::new(worker));
        self
    }

    /// Starts claiming and running jobs in the background.
    pub fn start(self) -> RunnerHandle {
        let shared = Arc::new(Shared {
            owner: Arc::from(self.config.node_id.as_str()),
            store: self.store,
            config: self.config,
            workers: self.workers,
            wake: Notify::new(),
            stop_claiming: CancellationToken::new(),
            slots: Mutex::new(HashMap::new()),
            tasks: Mutex::new(JoinSet::new()),
        });
        let main = tokio::spawn(main_loop(shared.clone()));
        RunnerHandle {
            shared,
            main: Arc::new(Mutex::new(Some(main))),
        }
    }
}

/// State shared by the runner's loop, its job tasks and its handles.
pub(crate) struct Shared {
    pub store: MetaStore,
    pub config: RunnerConfig,
    pub owner: Arc<str>,
    workers: BTreeMap<String, Arc<dyn DynWorker>>,
    pub wake: Notify,
    stop_claiming: CancellationToken,
    slots: Mutex<HashMap<JobId, Slot>>,
    tasks: Mutex<JoinSet<()>>,
}

impl Shared {
    /// The jobs running here. Never held across an `await`.
    pub fn slots(&self) -> MutexGuard<'_, HashMap<JobId, Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tasks(&self) -> MutexGuard<'_, JoinSet<()>> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Controls a started runner; cheap to clone.
///
/// Dropping every handle leaves the runner running until the process ends: call
/// [`RunnerHandle::shutdown`] to stop it cleanly.
#[derive(Clone)]
pub struct RunnerHandle {
    shared: Arc<Shared>,
    main: Arc<Mutex<Option<JoinHandle<()>>>>,
}

/// What [`RunnerHandle::shutdown`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Jobs still running at the deadline, given back for another runner to claim.
    pub released: Vec<JobId>,
}

impl RunnerHandle {
    /// The lease owner name of this runner's claims.
    pub fn node_id(&self) -> &str {
        &self.shared.owner
    }

    /// The store the runner works on (for listing jobs, counts and schedules).
    pub fn store(&self) -> &MetaStore {
        &self.shared.store
    }

    /// The jobs this runner is running now.
    pub fn running(&self) -> Vec<JobId> {
        let mut ids: Vec<_> = self.shared.slots().keys().copied().collect();
        ids.sort();
        ids
    }

    /// Queues a job (see [`portcullis_meta::Jobs::enqueue_job`] for dedup keys) and wakes
    /// this runner at once; other nodes find it at their next poll.
    pub async fn enqueue(&self, job: &NewJob) -> Result<Enqueued> {
        let queued = self.shared.store.jobs().enqueue_job(job).await?;
        self.shared.wake.notify_one();
        Ok(queued)
    }

    /// Asks a job to stop. A pending job stops at once; a running one here is cancelled at
    /// once, one running on another node at that node's next lease renewal. It ends
    /// `stopped` when its worker returns.
    pub async fn stop(&self, id: JobId) -> Result<StopRequest> {
        let outcome = self.shared.store.jobs().request_job_stop(id).await?;
        if outcome == StopRequest::Requested
            && let Some(slot) = self.shared.slots().get(&id)
        {
            slot.cancel(CANCEL_STOP);
        }
        Ok(outcome)
    }

    /// Creates or replaces the schedule `name`: a job of `kind` with `payload` each time
    /// `cron` comes due (UTC), starting with the first due time after now.
    pub async fn set_schedule(
        &self,
        name: &str,
        kind: &str,
        payload: serde_json::Value,
        cron: &str,
        enabled: bool,
    ) -> Result<Schedule> {
        let next_run_at = next_run_after(cron, OffsetDateTime::now_utc())?;
        let schedule = self
            .shared
            .store
            .schedules()
            .put_schedule(&NewSchedule {
                name: name.to_string(),
                kind: kind.to_string(),
                payload,
                cron: cron.to_string(),
                max_attempts: NewJob::DEFAULT_MAX_ATTEMPTS,
                enabled,
                next_run_at,
            })
            .await?;
        Ok(schedule)
    }

    /// Stops claiming, lets running jobs finish until `deadline`, then cancels those
    /// still running and gives them back so that another runner claims them at once
    /// (their attempt does not count).
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        self.stop_main().await;
        let mut tasks = std::mem::take(&mut *self.shared.tasks());
        let drained = tokio::time::timeout(deadline, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_ok() {
            return ShutdownReport {
                released: Vec::new(),
            };
        }
        let leftover: Vec<(JobId, Slot)> = self
            .shared
            .slots()
            .iter()
            .map(|(id, slot)| (*id, slot.clone()))
            .collect();
        for (_, slot) in &leftover {
            slot.cancel(CANCEL_SHUTDOWN);
        }
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        let mut released = Vec::new();
        for (id, _) in leftover {
            match self
                .shared
                .store
                .jobs()
                .release_job(id, &self.shared.owner)
                .await
            {
                Ok(true) => released.push(id),
                Ok(false) => {}
                Err(e) => tracing::error!(job = %id, error = %e, "could not release a job"),
            }
        }
        released.sort();
        tracing::info!(released = released.len(), "job runner shut down");
        ShutdownReport { released }
    }

    /// Stops everything at once and records nothing, as if the process had died: the
    /// jobs running here stay `running` until their leases run out. For emergencies
    /// (and for tests of a node's death).
    pub async fn abort(&self) {
        self.stop_main().await;
        let mut tasks = std::mem::take(&mut *self.shared.tasks());
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }

    async fn stop_main(&self) {
        self.shared.stop_claiming.cancel();
        let main = self.main.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(main) = main {
            let _ = main.await;
        }
    }
}

async fn main_loop(shared: Arc<Shared>) {
    tracing::info!(node = %shared.owner, kinds = ?shared.workers.keys().collect::<Vec<_>>(), "job runner started");
    loop {
        if shared.stop_claiming.is_cancelled() {
            break;
        }
        if let Err(e) = fire_schedules(&shared).await {
            tracing::warn!(error = %e, "could not fire due schedules");
        }
        for (kind, worker) in &shared.workers {
            if shared.stop_claiming.is_cancelled() {
                break;
            }
            if let Err(e) = claim(&shared, kind, worker).await {
                tracing::warn!(kind = %kind, error = %e, "could not claim jobs");
            }
        }
        // Finished tasks keep their result until joined; collect them.
        while shared.tasks().try_join_next().is_some() {}
        tokio::select! {
            () = shared.stop_claiming.cancelled() => break,
            () = shared.wake.notified() => {}
            () = tokio::time::sleep(shared.config.poll_interval) => {}
        }
    }
}

async fn claim(shared: &Arc<Shared>, kind: &str, worker: &Arc<dyn DynWorker>) -> Result<()> {
    let busy = shared.slots().values().filter(|s| s.kind == kind).count();
    let free = shared.config.limit(kind).saturating_sub(busy);
    if free == 0 {
        return Ok(());
    }
    let free = u32::try_from(free).unwrap_or(u32::MAX);
    let jobs = shared
        .store
        .jobs()
        .claim_jobs(kind, &shared.owner, free, shared.config.lease)
        .await?;
    for job in jobs {
        tracing::debug!(job = %job.id, kind = %kind, attempt = job.attempts, "job claimed");
        let slot = Slot::new(kind);
        shared.slots().insert(job.id, slot.clone());
        let run = execute(shared.clone(), worker.clone(), job, slot);
        shared.tasks().spawn(run);
    }
    Ok(())
}

async fn fire_schedules(shared: &Shared) -> Result<()> {
    let store = &shared.store;
    for schedule in store.schedules().due_schedules(SCHEDULES_PER_POLL).await? {
        // Times missed while no node was up collapse into this one firing.
        let next = match next_run_after(&schedule.cron, OffsetDateTime::now_utc()) {
            Ok(next) => next,
            Err(e) => {
                tracing::error!(schedule = %schedule.name, error = %e, "schedule disabled");
                store
                    .schedules()
                    .put_schedule(&NewSchedule {
                        name: schedule.name.clone(),
                        kind: schedule.kind.clone(),
                        payload: schedule.payload.clone(),
                        cron: schedule.cron.clone(),
                        max_attempts: schedule.max_attempts.max(1),
                        enabled: false,
                        next_run_at: schedule.next_run_at,
                    })
                    .await?;
                continue;
            }
        };
        match store.schedules().fire_schedule(&schedule, next).await? {
            FireOutcome::Enqueued(job) => {
                tracing::info!(schedule = %schedule.name, job = %job.id, "schedule fired");
                shared.wake.notify_one();
            }
            FireOutcome::StillRunning(job) => {
                tracing::info!(schedule = %schedule.name, job = %job.id, "previous run unfinished; firing skipped");
            }
            FireOutcome::NotDue => {}
        }
    }
    Ok(())
}
