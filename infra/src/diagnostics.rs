//! The JSON-lines sink of sign-in and registry events: one line per event, written by a
//! thread of its own so that the request that made an event never waits on the disk.
//!
//! To files, one per UTC day (`events-YYYY-MM-DD.jsonl`, mode 0600, in a directory of their
//! own), deleting those older than the retention period; or to standard output, for a
//! collector. A line is written whole or not at all; lines are gathered for 50 ms and
//! written and flushed together.

use berth_domain::diagnostics::{DiagnosticEvent, DiagnosticSink};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use time::OffsetDateTime;

/// How long the writer gathers events before writing them (the most a line waits).
const BATCH_MS: u64 = 50;

/// Where the lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkTarget {
    /// Nowhere.
    Off,
    /// Standard output.
    Stdout,
    /// Daily files in this directory.
    Directory(PathBuf),
}

/// The sink: a queue to the writing thread.
#[derive(Debug)]
pub struct JsonLinesSink {
    queue: mpsc::Sender<DiagnosticEvent>,
}

impl DiagnosticSink for JsonLinesSink {
    fn record(&self, event: DiagnosticEvent) {
        // The writer only stops when the process does.
        let _ = self.queue.send(event);
    }
}

impl JsonLinesSink {
    /// Starts the writing thread for `target`, keeping daily files `retention_days` days.
    ///
    /// # Errors
    /// When the directory cannot be made.
    pub fn start(target: SinkTarget, retention_days: u32) -> Result<Self, String> {
        if let SinkTarget::Directory(dir) = &target {
            crate::files::prepare_private_dir(dir)
                .map_err(|e| format!("cannot make the audit directory {}: {e}", dir.display()))?;
            prune(dir, retention_days, OffsetDateTime::now_utc());
        }
        let (queue, events) = mpsc::channel::<DiagnosticEvent>();
        std::thread::Builder::new()
            .name("berth-audit".to_owned())
            .spawn(move || write_all(&target, retention_days, &events))
            .map_err(|e| format!("cannot start the audit writer: {e}"))?;
        Ok(Self { queue })
    }
}

/// The file of `day`.
#[must_use]
pub fn file_of(dir: &Path, day: time::Date) -> PathBuf {
    dir.join(format!(
        "events-{:04}-{:02}-{:02}.jsonl",
        day.year(),
        u8::from(day.month()),
        day.day()
    ))
}

/// What [`query`] selects: events of a time range, each field given matching exactly
/// (case aside).
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// `ContainerRegistryLoginEvents`, `ContainerRegistryRepositoryEvents` or `SignInLogs`.
    pub category: Option<String>,
    /// `Login`, `SignIn`, `Push`, `Pull`, `Delete`, `TrustDataPush`, `TrustDataDelete`.
    pub operation: Option<String>,
    /// The HTTP status answered (`401`).
    pub result: Option<String>,
    /// Who.
    pub identity: Option<String>,
    /// The login server.
    pub login_server: Option<String>,
    /// The repository.
    pub repository: Option<String>,
}

impl EventFilter {
    fn matches(&self, event: &serde_json::Value) -> bool {
        let field = |name: &str, wanted: &Option<String>| {
            wanted.as_ref().is_none_or(|w| {
                event[name]
                    .as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(w))
            })
        };
        field("Category", &self.category)
            && field("OperationName", &self.operation)
            && field("ResultType", &self.result)
            && field("Identity", &self.identity)
            && field("LoginServer", &self.login_server)
            && field("Repository", &self.repository)
    }
}

/// What [`query`] read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryCount {
    /// Lines written out.
    pub matched: u64,
    /// Lines that are not events (a line cut short by a crash, an edit).
    pub unreadable: u64,
}

/// Writes to `out`, as the JSON lines they are, the events of the daily files in `dirs` (one
/// per replica, say) that happened from `from` to `to` and that `filter` selects, oldest
/// first: a day's events of every directory merged in time order.
///
/// # Errors
/// When a file cannot be read or `out` written.
pub fn query(
    dirs: &[PathBuf],
    from: OffsetDateTime,
    to: OffsetDateTime,
    filter: &EventFilter,
    out: &mut impl Write,
) -> std::io::Result<QueryCount> {
    use std::io::BufRead;
    let mut count = QueryCount::default();
    let mut day = from.date();
    while day <= to.date() {
        let mut matched = Vec::new();
        for dir in dirs {
            let file = match std::fs::File::open(file_of(dir, day)) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for line in std::io::BufReader::new(file).lines() {
                let line = line?;
                let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                    count.unreadable += 1;
                    continue;
                };
                let at = event["TimeGenerated"].as_str().and_then(|t| {
                    OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
                });
                let Some(at) = at else {
                    count.unreadable += 1;
                    continue;
                };
                if at >= from && at <= to && filter.matches(&event) {
                    matched.push((at, line));
                }
            }
        }
        // Stable: a file's events that share a time keep their order.
        matched.sort_by_key(|(at, _)| *at);
        for (_, line) in matched {
            writeln!(out, "{line}")?;
            count.matched += 1;
        }
        let Some(next) = day.next_day() else { break };
        day = next;
    }
    Ok(count)
}

/// Deletes the daily files older than `retention_days` before `now`.
fn prune(dir: &Path, retention_days: u32, now: OffsetDateTime) {
    let oldest = file_of(
        dir,
        (now - time::Duration::days(retention_days.into())).date(),
    );
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let daily = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("events-") && n.ends_with(".jsonl"));
        // The names sort as their days do.
        if daily
            && path < oldest
            && let Err(e) = std::fs::remove_file(&path)
        {
            tracing::warn!(file = %path.display(), error = %e, "cannot delete an expired audit file");
        }
    }
}

fn write_all(target: &SinkTarget, retention_days: u32, events: &mpsc::Receiver<DiagnosticEvent>) {
    let mut open: Option<(time::Date, std::io::BufWriter<std::fs::File>)> = None;
    while let Ok(first) = events.recv() {
        // What comes within a moment is written with it: a busy token server then costs
        // this thread a wake-up and a write a moment, not one an event.
        std::thread::sleep(std::time::Duration::from_millis(BATCH_MS));
        let mut batch = vec![first];
        batch.extend(events.try_iter());
        let mut lines = Vec::with_capacity(batch.len() * 256);
        for event in &batch {
            if serde_json::to_writer(&mut lines, event).is_ok() {
                lines.push(b'\n');
            }
        }
        let written = match target {
            SinkTarget::Off => Ok(()),
            SinkTarget::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(&lines).and_then(|()| out.flush())
            }
            SinkTarget::Directory(dir) => {
                let today = OffsetDateTime::now_utc().date();
                if open.as_ref().is_none_or(|(day, _)| *day != today) {
                    open = crate::files::append_private(&file_of(dir, today))
                        .map(|f| (today, std::io::BufWriter::new(f)))
                        .map_err(|e| tracing::error!(error = %e, "cannot open the audit file"))
                        .ok();
                    prune(dir, retention_days, OffsetDateTime::now_utc());
                }
                match open.as_mut() {
                    Some((_, file)) => file.write_all(&lines).and_then(|()| file.flush()),
                    None => Ok(()),
                }
            }
        };
        if let Err(e) = written {
            tracing::error!(error = %e, events = batch.len(), "cannot write audit events");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_daily_files_are_deleted_and_others_kept() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let now = OffsetDateTime::now_utc();
        let old = file_of(dir.path(), (now - time::Duration::days(10)).date());
        let recent = file_of(dir.path(), (now - time::Duration::days(2)).date());
        let other = dir.path().join("notes.txt");
        for f in [&old, &recent, &other] {
            std::fs::write(f, b"{}\n").unwrap_or_else(|e| panic!("{e}"));
        }
        prune(dir.path(), 7, now);
        assert!(!old.exists());
        assert!(recent.exists());
        assert!(other.exists());
    }
}
