//! `meet jobs` (the scheduled jobs, their periods and last runs) and `meet <job>` (one run now).

use anyhow::bail;

use crate::config::Config;
use crate::service::scheduler::{self, Attempt, JOBS};
use crate::state::AppState;
use crate::store::{schedule, Db};

/// Prints every scheduled job with its period and last run.
pub async fn list(db: &Db, config: &Config) -> anyhow::Result<()> {
    let runs = schedule::list(db).await?;
    let rows: Vec<serde_json::Value> = JOBS
        .iter()
        .map(|j| {
            let last = runs.iter().find(|r| r.name == j.name);
            serde_json::json!({
                "job": j.name, "period": config.ops.job_period(j.name).as_secs(), "setting": j.env,
                "runs": last.map(|r| r.runs), "last_started_at": last.and_then(|r| r.last_started_at).map(|t| t.to_rfc3339()),
                "last_outcome": last.and_then(|r| r.last_outcome.clone()), "what": j.doc,
            })
        })
        .collect();
    super::Out { json: false }
        .rows(&["job", "period", "setting", "runs", "last_started_at", "last_outcome", "what"], &rows);
    Ok(())
}

/// Runs the job named by `args[0]` once, now.
pub async fn run(state: &AppState, args: &[String]) -> anyhow::Result<()> {
    let name = args.first().map(String::as_str).unwrap_or_default();
    let Some(job) = scheduler::find(name) else {
        let names: Vec<&str> = JOBS.iter().map(|j| j.name).collect();
        bail!("unknown command '{name}' (scheduled jobs: {}; see meet --help)", names.join(", "));
    };
    if args.len() > 1 {
        bail!("{name} takes no arguments");
    }
    match scheduler::attempt(state, job, state.config.ops.job_period(name), true).await {
        Attempt::Ran(Ok(summary)) => {
            println!("{name}: {summary}");
            Ok(())
        }
        Attempt::Ran(Err(e)) => bail!("{name} failed: {e}"),
        Attempt::Busy => bail!("{name} is running elsewhere right now; nothing done"),
        Attempt::NotDue => bail!("{name} ran meanwhile; nothing done"),
    }
}
