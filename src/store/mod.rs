//! Persistence over SQLite or PostgreSQL with one query code path. `exec.rs` is the only place
//! that matches on the backend (besides `migrations.rs`); the table modules write SQL once.

pub mod accesses;
pub mod admin;
pub mod applications;
pub mod exec;
pub mod files;
pub mod jobs;
pub mod migrations;
pub mod provisional;
pub mod recordings;
pub mod roomkit;
pub mod rooms;
pub mod schedule;
pub mod sessions;
mod takeover;
pub mod users;

pub use exec::{Backend, Db, PoolStats, StrList, Tx, Q};

/// Errors of the store. A unique or check violation carries the constraint's name (the same
/// name on both backends), so that services can turn it into the exact DRF 400.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("row not found")]
    NotFound,
    #[error("constraint violated: {0}")]
    Conflict(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Other(String),
    /// The database holds a schema meet cannot take over (see `takeover.rs`).
    #[error("{0}")]
    Schema(String),
}

impl StoreError {
    /// True when this is a violation of the named constraint.
    pub fn is_conflict(&self, constraint: &str) -> bool {
        matches!(self, StoreError::Conflict(c) if c == constraint)
    }
}

/// The current time, truncated to microseconds (what PostgreSQL keeps), so that values read
/// back equal values written on both backends.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{SubsecRound, Utc};
    Utc::now().trunc_subsecs(6)
}
