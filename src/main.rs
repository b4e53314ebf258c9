//! The `meet` command line: `serve` (default), `migrate`, `check-config`, `admin`, `jobs` and
//! `meet <job>`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use meet::config::LogFormat;
use meet::Config;

#[derive(Parser)]
#[command(name = "meet", version, about = "Control plane for LiveKit meetings (La Suite Meet API)")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve {
        /// Listen address, ADDRESS:PORT (overrides MEET_BIND).
        #[arg(long)]
        bind: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the effective settings (secrets masked); exit non-zero naming every invalid variable.
    CheckConfig,
    /// Register an application of the external API and print its client id and secret (shown
    /// only this once: the secret is stored hashed).
    CreateApplication {
        /// A descriptive name.
        #[arg(long)]
        name: String,
        /// A granted scope (repeat): rooms:list, rooms:retrieve, rooms:create, rooms:update, rooms:delete.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// An e-mail domain the application may act for (repeat; none: any domain).
        #[arg(long = "domain")]
        domains: Vec<String>,
    },
    /// Merge users that share an e-mail (case-insensitively) into one, one transaction per group
    /// (upstream's `merge_duplicate_users`).
    MergeDuplicateUsers {
        /// Print what would be merged; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Only e-mails containing this text (case-insensitive).
        #[arg(long)]
        email_filter: Option<String>,
    },
    /// Remove the files whose upload never ended (pending, or stuck analyzing) for N hours.
    #[command(name = "clean-pending-files", alias = "clean_pending_files")]
    CleanPendingFiles {
        /// Age in hours of the uploads to remove (default 24).
        #[arg(long, default_value_t = 24, allow_negative_numbers = true)]
        hours: i64,
    },
    /// Remove the hard-deleted files and those soft-deleted FILE_PURGE_GRACE_DAYS days ago.
    #[command(name = "purge-deleted-files", alias = "purge_deleted_files")]
    PurgeDeletedFiles,
    /// Delete the objects of recordings older than RECORDING_EXPIRATION_DAYS (rows are kept).
    #[command(name = "purge-expired-recordings", alias = "purge_expired_recordings")]
    PurgeExpiredRecordings,
    /// Seed the data the load kit expects (use a fresh database) and print its session variables.
    SeedBench,
    /// List the scheduled jobs: period, last run, outcome.
    Jobs,
    /// Operator commands on users, rooms, accesses, recordings and applications.
    Admin(meet::admin::AdminArgs),
    /// `meet <job>`: run one scheduled job once, now (see `meet jobs`).
    #[command(external_subcommand)]
    Job(Vec<String>),
}

/// jemalloc instead of the C library's allocator: under load, glibc's `malloc`/`free`/
/// `malloc_consolidate` were 10-15% of the server's CPU; with jemalloc the load kit measured
/// +33% on `/config/`, +57% on the rooms list, x1.9 on new lobby waiters (SQLite + memory), for
/// 2 MiB more at idle (mimalloc, also tried, cost 17 MiB more at idle).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Logs go to stderr through a background writer thread, so that a request never waits on the
/// write; the returned guard flushes what is left when `main` returns.
fn init_tracing(format: LogFormat) -> tracing_appender::non_blocking::WorkerGuard {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // Not lossy: under a burst larger than the buffer, requests wait rather than lose log lines.
    // The writer thread flushes each time it has drained what was queued, so lines written in a
    // burst leave in one system call instead of one each (under load the per-line `write` was a
    // visible share of the profile), and a lone line still leaves at once.
    let stderr = std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr());
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default().lossy(false).finish(stderr);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
    guard
}

/// The state the cleanup commands run with (database, cache and object store of the settings).
async fn cleanup_state(config: Config) -> anyhow::Result<meet::AppState> {
    meet::install_crypto_provider();
    let (db, cache) = meet::connect(&config).await?;
    Ok(meet::AppState::new(config, db, cache))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let bind_override = match &cli.command {
        Some(Command::Serve { bind }) => bind.clone(),
        _ => None,
    };
    let config = Config::from_lookup(|k| {
        if k == "MEET_BIND" {
            if let Some(b) = &bind_override {
                return Some(b.clone());
            }
        }
        std::env::var(k).ok()
    });
    let mut config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("meet: {e}");
            return ExitCode::from(2);
        }
    };
    let _log_guard = init_tracing(config.log_format);
    if let Err(e) = config.ensure_secret_key() {
        tracing::error!(error = %e, "cannot create the secret key in MEET_DATA_DIR");
        return ExitCode::FAILURE;
    }
    if let Some(Command::CheckConfig) = cli.command {
        for (k, v) in config.describe() {
            println!("{k}={v}");
        }
        for w in &config.warnings {
            println!("# warning: {w}");
        }
        return ExitCode::SUCCESS;
    }
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("meet: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Some(Command::SeedBench) => {
                let (db, cache) = meet::connect(&config).await?;
                let seed = meet::seed::bench(&db, &cache, &config).await?;
                println!("OWNER_SESSION={}", seed.owner_session);
                println!("CREATOR_SESSION={}", seed.creator_session);
                println!("CSRF_TOKEN={}", seed.csrf_token);
                Ok(())
            }
            Some(Command::CreateApplication { name, scopes, domains }) => {
                let (db, _) = meet::connect(&config).await?;
                let r =
                    meet::service::external::register_application(&db, &config.external_api, &name, &scopes, &domains)
                        .await?;
                println!("APPLICATION_ID={}", r.application.id);
                println!("CLIENT_ID={}", r.application.client_id);
                println!("CLIENT_SECRET={}", r.client_secret);
                Ok(())
            }
            Some(Command::MergeDuplicateUsers { dry_run, email_filter }) => {
                let (db, cache) = meet::connect(&config).await?;
                let opts = meet::service::merge::Options { dry_run, email_filter };
                let report =
                    meet::service::merge::merge_duplicates(&db, &opts, &mut std::io::stdout(), &mut std::io::stderr())
                        .await?;
                let sessions = meet::sessions::Sessions::new(db, cache, std::time::Duration::ZERO);
                for id in &report.changed {
                    sessions.user_changed(*id).await;
                }
                match meet::service::merge::failure_message(&report) {
                    Some(m) => Err(anyhow::anyhow!("CommandError: {m}")),
                    None => Ok(()),
                }
            }
            Some(Command::CleanPendingFiles { hours }) => {
                let hours = u64::try_from(hours).map_err(|_| anyhow::anyhow!("Hours must be greater than 0"))?;
                let state = cleanup_state(config).await?;
                let report = meet::service::cleanup::clean_pending_files::run_with_hours(&state, hours).await?;
                println!("{}", report.message);
                Ok(())
            }
            Some(Command::PurgeDeletedFiles) => {
                let state = cleanup_state(config).await?;
                println!("{}", meet::service::cleanup::purge_deleted_files::run_once(&state).await?.message);
                Ok(())
            }
            Some(Command::PurgeExpiredRecordings) => {
                let state = cleanup_state(config).await?;
                println!("{}", meet::service::cleanup::purge_expired_recordings::run_once(&state).await?.message);
                Ok(())
            }
            Some(Command::Jobs) => {
                let (db, _) = meet::connect(&config).await?;
                meet::admin::jobs::list(&db, &config).await
            }
            Some(Command::Job(args)) => {
                meet::install_crypto_provider();
                let (db, cache) = meet::connect(&config).await?;
                let state = meet::AppState::new(config, db, cache);
                meet::admin::jobs::run(&state, &args).await
            }
            Some(Command::Admin(args)) => {
                meet::install_crypto_provider();
                let (db, cache) = meet::connect(&config).await?;
                let state = meet::AppState::new(config, db, cache);
                meet::admin::run(&state, args).await
            }
            Some(Command::Migrate) => {
                meet::connect(&config).await?;
                tracing::info!("database is up to date");
                Ok(())
            }
            _ => {
                let app = meet::App::build(config).await?;
                tracing::info!(address = %app.local_addr(), "meet is listening");
                app.run_until(meet::shutdown_signal()).await?;
                Ok::<(), anyhow::Error>(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
