//! The scheduler: periodic maintenance jobs that upstream runs as Kubernetes CronJobs run here,
//! inside the server. Each job has a period setting (seconds, 0 = off); with several instances a
//! job runs once per period in total (a compare-and-set on its row of `meet_scheduled_job`) and
//! never twice at the same time (PostgreSQL advisory lock; in-process lock on SQLite). Every run
//! is logged and counted in `/metrics`; `meet <job>` runs one job once (for operators who prefer
//! their own cron).
//!
//! Adding a job is one entry of [`JOBS`]: its name, its period variable, its default period and
//! an `async fn run_once(&AppState) -> Result<T, E>` (`T: Debug` is the run's summary, `E:
//! Display` its failure).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

use crate::state::AppState;
use crate::store::{now, schedule};

/// The result of one run: a summary, or the failure.
pub type RunResult = Result<String, String>;

/// What a job's entry points at.
pub type RunFn = for<'a> fn(&'a AppState) -> Pin<Box<dyn Future<Output = RunResult> + Send + 'a>>;

/// One scheduled job.
pub struct JobDef {
    /// Its name: the `meet <name>` command, the `job` label of the metrics.
    pub name: &'static str,
    /// The variable holding its period in seconds (0 = off).
    pub env: &'static str,
    /// The default period in seconds.
    pub default_period: u64,
    /// One line for `meet jobs` and `--help`.
    pub doc: &'static str,
    pub run: RunFn,
}

/// Turns a job function's result into a [`RunResult`].
pub fn report<T: std::fmt::Debug, E: std::fmt::Display>(r: Result<T, E>) -> RunResult {
    r.map(|t| format!("{t:?}")).map_err(|e| e.to_string())
}

/// A [`JobDef`] whose work is `$run(&AppState)`.
macro_rules! job {
    ($name:literal, $env:literal, $default:expr, $doc:literal, $run:path) => {
        JobDef {
            name: $name,
            env: $env,
            default_period: $default,
            doc: $doc,
            run: |state| Box::pin(async move { report($run(state).await) }),
        }
    };
}

/// Every scheduled job.
pub const JOBS: &[JobDef] = &[
    job!(
        "purge-expired-sessions",
        "MEET_PURGE_EXPIRED_SESSIONS_PERIOD",
        3600,
        "delete expired sessions from the database",
        purge_expired_sessions
    ),
    job!(
        "purge-finished-jobs",
        "MEET_PURGE_FINISHED_JOBS_PERIOD",
        3600,
        "delete deferred jobs (connection-test room deletions) finished more than 7 days ago",
        super::jobs::purge_finished
    ),
    job!(
        "clean-pending-files",
        "MEET_CLEAN_PENDING_FILES_PERIOD",
        3600,
        "remove the uploads that never ended, older than MEET_CLEAN_PENDING_FILES_HOURS",
        super::cleanup::clean_pending_files::run_once
    ),
    job!(
        "purge-deleted-files",
        "MEET_PURGE_DELETED_FILES_PERIOD",
        3600,
        "remove hard-deleted files and those soft-deleted FILE_PURGE_GRACE_DAYS ago",
        super::cleanup::purge_deleted_files::run_once
    ),
    job!(
        "purge-expired-recordings",
        "MEET_PURGE_EXPIRED_RECORDINGS_PERIOD",
        0,
        "delete the objects of recordings older than RECORDING_EXPIRATION_DAYS",
        super::cleanup::purge_expired_recordings::run_once
    ),
];

/// The job named `name`.
pub fn find(name: &str) -> Option<&'static JobDef> {
    JOBS.iter().find(|j| j.name == name)
}

/// Deletes expired database sessions; returns how many (sessions kept in Redis expire there by
/// themselves).
pub async fn purge_expired_sessions(state: &AppState) -> Result<u64, crate::store::StoreError> {
    crate::store::sessions::purge_expired(&state.db).await
}

/// How a run attempt ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt {
    /// It ran: the summary, or the failure.
    Ran(RunResult),
    /// Another runner holds the job's lock.
    Busy,
    /// Another instance already ran it in this period.
    NotDue,
}

/// Runs `job` if no other runner holds it and, unless `force`, if no run started in the last
/// `period`. Logs and counts the attempt.
pub async fn attempt(state: &AppState, job: &JobDef, period: Duration, force: bool) -> Attempt {
    let lock = match schedule::try_lock(&state.db, job.name).await {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            crate::metrics::job_run(job.name, "skipped", None);
            return Attempt::Busy;
        }
        Err(e) => return failed(job, format!("cannot take the job lock: {e}")),
    };
    let at = now();
    // A little slack so that a timer firing a hair early still finds the period elapsed.
    let period = chrono::Duration::from_std(period - period / 20).unwrap_or(chrono::Duration::zero());
    let started_before = if force { at } else { at - period };
    match schedule::claim(&state.db, job.name, at, started_before).await {
        Ok(true) => {}
        Ok(false) => {
            let _ = lock.release().await;
            return Attempt::NotDue;
        }
        Err(e) => {
            let _ = lock.release().await;
            return failed(job, format!("cannot record the run: {e}"));
        }
    }
    let start = Instant::now();
    let result = (job.run)(state).await;
    let seconds = start.elapsed().as_secs_f64();
    let (outcome, error) = match &result {
        Ok(summary) => {
            tracing::info!(job = job.name, result = %summary, seconds, "scheduled job done");
            ("ok", None)
        }
        Err(e) => {
            tracing::warn!(job = job.name, error = %e, seconds, "scheduled job failed");
            ("error", Some(e.as_str()))
        }
    };
    crate::metrics::job_run(job.name, outcome, Some(seconds));
    if let Err(e) = schedule::finish(&state.db, job.name, outcome, error).await {
        tracing::warn!(job = job.name, error = %e, "scheduled job end not recorded");
    }
    if let Err(e) = lock.release().await {
        tracing::warn!(job = job.name, error = %e, "scheduled job lock not released");
    }
    Attempt::Ran(result)
}

fn failed(job: &JobDef, e: String) -> Attempt {
    tracing::warn!(job = job.name, error = %e, "scheduled job not run");
    crate::metrics::job_run(job.name, "error", None);
    Attempt::Ran(Err(e))
}

/// Runs one job forever: every `min(period, 60 s)`, starting one such tick after start-up, it
/// tries to claim this period's run. `one_at_a_time` is shared by the instance's jobs: a run
/// holds a database connection for its lock, so the jobs of one instance run one after the
/// other and never take a small pool away from the requests.
async fn job_loop(state: AppState, job: &'static JobDef, period: Duration, one_at_a_time: Arc<Semaphore>) {
    let tick_every = period.min(Duration::from_secs(60));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + tick_every, tick_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Ok(_permit) = one_at_a_time.acquire().await else { return };
        attempt(&state, job, period, false).await;
    }
}

/// Starts every job whose period is not 0; completes when all are stopped (never, unless none
/// is on).
pub async fn run_loop(state: AppState) {
    let one_at_a_time = Arc::new(Semaphore::new(1));
    let mut tasks = tokio::task::JoinSet::new();
    for job in JOBS {
        let period = state.config.ops.job_period(job.name);
        if period.is_zero() {
            tracing::debug!(job = job.name, "scheduled job off");
            continue;
        }
        tasks.spawn(job_loop(state.clone(), job, period, one_at_a_time.clone()));
    }
    while tasks.join_next().await.is_some() {}
}
