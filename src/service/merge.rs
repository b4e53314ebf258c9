//! Folding duplicate users into one (now-external-api §11, upstream's `merge_duplicate_users`):
//! users sharing an e-mail case-insensitively are merged, one transaction per group, room and
//! recording accesses moving to the kept user with the higher role winning, files re-assigned. Unlike upstream (W31),
//! the kept user is the newest one **with a `sub`** when there is one (so the person's next login
//! still matches by `sub`), and the kept e-mail is lower-cased inside the group's transaction only.
//! [`merge_pair`] merges an explicit pair (for operators' tools).

use std::io::Write;

use uuid::Uuid;

use crate::store::provisional::{self, Counts};
use crate::store::users::User;
use crate::store::{Db, StoreError};

/// What `merge-duplicate-users` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Report only, write nothing (`--dry-run`).
    pub dry_run: bool,
    /// Only e-mails containing this text, case-insensitively (`--email-filter`).
    pub email_filter: Option<String>,
}

/// The outcome of a run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Groups merged (or that would be, in a dry run).
    pub groups: usize,
    /// Users deleted.
    pub deleted: usize,
    /// Keys of the groups that failed (rolled back).
    pub failed: Vec<String>,
    /// Users whose row changed or went (to announce to running servers).
    pub changed: Vec<Uuid>,
}

/// The index of the user to keep among `users` (oldest first): the newest with a non-empty `sub`,
/// else the newest (W31).
pub fn kept_index(users: &[User]) -> usize {
    let linked = users.iter().rposition(|u| u.sub.as_deref().is_some_and(|s| !s.is_empty()));
    linked.unwrap_or(users.len().saturating_sub(1))
}

/// Merges `stale` into `kept` in one transaction: accesses move (higher role wins), the stale
/// user's sessions end, the stale user is deleted. With `lowercase`, the kept e-mail is
/// lower-cased in the same transaction.
pub async fn merge_pair(db: &Db, kept: Uuid, stale: &[Uuid], lowercase: bool) -> Result<(), StoreError> {
    if stale.contains(&kept) {
        return Err(StoreError::Other("a user cannot be merged into itself".into()));
    }
    let mut tx = db.begin().await?;
    for s in stale {
        provisional::fold(&mut tx, *s, kept).await?;
    }
    if lowercase {
        provisional::lowercase_email(&mut tx, kept).await?;
    }
    tx.commit().await
}

fn day(u: &User) -> String {
    u.created_at.format("%Y-%m-%d").to_string()
}

/// Runs the command: finds the groups, prints upstream's lines to `out` (errors to `err`), and
/// merges each group in its own transaction unless `dry_run`. A failed group is rolled back and
/// the others go on; `Report::failed` names them.
pub async fn merge_duplicates(
    db: &Db,
    opts: &Options,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<Report> {
    if opts.dry_run {
        writeln!(out, "[DRY-RUN] No changes will be written.")?;
    }
    let filter = opts.email_filter.as_deref().filter(|f| !f.is_empty());
    if let Some(f) = filter {
        writeln!(out, "[INFO] Filtering emails containing '{f}'.")?;
    }
    let keys = provisional::duplicate_emails(db, filter).await?;
    if keys.is_empty() {
        writeln!(out, "[INFO] No duplicate users found. Nothing to do.")?;
        return Ok(Report::default());
    }
    writeln!(out, "[INFO] Found {} email(s) with duplicate users.", keys.len())?;
    let mut report = Report::default();
    for key in keys {
        let mut users = provisional::users_with_email(db, &key).await?;
        if users.len() < 2 {
            continue;
        }
        let kept = users.remove(kept_index(&users));
        writeln!(out)?;
        writeln!(
            out,
            "[INFO] Email '{key}': {} users — keeping {} (created {}).",
            users.len() + 1,
            kept.id,
            day(&kept)
        )?;
        for s in &users {
            writeln!(out, "       stale: {} (created {})", s.id, day(s))?;
        }
        if opts.dry_run {
            let mut total = Counts::default();
            for s in &users {
                let c = provisional::counts(db, s.id).await?;
                total.resource_accesses += c.resource_accesses;
                total.recording_accesses += c.recording_accesses;
                total.files += c.files;
            }
            writeln!(
                out,
                "       [DRY-RUN] Would migrate: {} ResourceAccess, {} RecordingAccess, {} File(s).",
                total.resource_accesses, total.recording_accesses, total.files
            )?;
            report.groups += 1;
            report.deleted += users.len();
            continue;
        }
        let stale: Vec<Uuid> = users.iter().map(|u| u.id).collect();
        match merge_pair(db, kept.id, &stale, true).await {
            Ok(()) => {
                report.groups += 1;
                report.deleted += stale.len();
                report.changed.push(kept.id);
                report.changed.extend(stale);
            }
            Err(e) => {
                writeln!(err, "[ERROR] Failed to merge '{key}': {e}")?;
                report.failed.push(key);
            }
        }
    }
    if report.failed.is_empty() {
        writeln!(out)?;
        writeln!(out, "[DONE] Merged {} group(s), deleted {} user(s).", report.groups, report.deleted)?;
    }
    Ok(report)
}

/// The command's failure text when groups failed (upstream's `CommandError`).
pub fn failure_message(report: &Report) -> Option<String> {
    (!report.failed.is_empty())
        .then(|| format!("Failed to merge {} email group(s): {}", report.failed.len(), report.failed.join(", ")))
}
