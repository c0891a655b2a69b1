//! The logs of a stack's services, merged as they arrive. A followed stream follows each
//! container across its restarts (from where it left off, no line twice) and picks up the
//! containers created after it began (a service recreated by Up or a switch).

use crate::{labels, Engine, EngineError};
use bollard::query_parameters::{EventsOptions, LogsOptions};
use bollard::Docker;
use deck_compose::Project;
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::HashMap;
use tokio::sync::{broadcast, mpsc};
use ts_rs::TS;

/// One log line of one service.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct LogLine {
    pub service: String,
    /// The engine's timestamp (RFC 3339), when asked for.
    pub timestamp: Option<String>,
    pub stderr: bool,
    pub line: String,
}

/// An engine timestamp made comparable: RFC 3339 in UTC with the fraction padded to 9 digits
/// (the engine trims its trailing zeros).
fn stamp(ts: &str) -> String {
    let Some(body) = ts.strip_suffix('Z') else {
        return ts.to_string();
    };
    let (secs, frac) = body.split_once('.').unwrap_or((body, ""));
    format!("{secs}.{frac:0<9}Z")
}

/// The whole seconds since the epoch of an engine timestamp, for the logs' `since`.
fn epoch_seconds(ts: &str) -> Option<i32> {
    let d = ts.get(..19)?;
    let num = |r: std::ops::Range<usize>| d.get(r)?.parse::<i64>().ok();
    let (y, m, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, min, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    i32::try_from(days * 86_400 + h * 3600 + min * 60 + s).ok()
}

/// Splits the engine's timestamp from a line of a stream asked with timestamps.
fn split_line(raw: &str) -> (Option<String>, &str) {
    match raw.split_once(' ') {
        Some((ts, rest)) if ts.len() > 20 && ts.as_bytes()[4] == b'-' => (Some(ts.to_string()), rest),
        _ => (None, raw),
    }
}

/// The lines of a chunk of a log stream asked with timestamps, of `service`, secrets masked.
pub(crate) fn log_lines(chunk: &bollard::container::LogOutput, service: &str) -> Vec<LogLine> {
    let stderr = matches!(chunk, bollard::container::LogOutput::StdErr { .. });
    chunk
        .to_string()
        .lines()
        .map(|raw| {
            let (timestamp, line) = split_line(raw);
            LogLine {
                service: service.to_string(),
                timestamp,
                stderr,
                line: deck_error::redact::text(line).into_owned(),
            }
        })
        .collect()
}

/// One container's logs, to `tx`: its last `tail` lines and, when following, what it writes
/// next, again after each restart (told by `started`) from where it left off.
async fn follow_container(
    docker: Docker,
    id: String,
    service: String,
    follow: bool,
    tail: Option<usize>,
    mut started: broadcast::Receiver<String>,
    tx: mpsc::Sender<LogLine>,
) {
    // The newest line sent: a stream resumed from its second sends it (and those before it in
    // that second) again, and they are skipped.
    let mut last: Option<String> = None;
    let mut since = 0;
    let mut tail = tail.map_or("all".to_string(), |n| n.to_string());
    loop {
        let opts = LogsOptions {
            follow,
            stdout: true,
            stderr: true,
            timestamps: true,
            since,
            tail: std::mem::replace(&mut tail, "all".into()),
            ..Default::default()
        };
        let mut stream = docker.logs(&id, Some(opts));
        loop {
            // Ends as soon as the receiver is dropped, not at the next line.
            let chunk = tokio::select! {
                next = stream.next() => match next {
                    Some(Ok(chunk)) => chunk,
                    _ => break,
                },
                _ = tx.closed() => return,
            };
            for line in log_lines(&chunk, &service) {
                if let Some(ts) = line.timestamp.as_deref().map(stamp) {
                    if last.as_ref().is_some_and(|l| &ts <= l) {
                        continue;
                    }
                    last = Some(ts);
                }
                if tx.send(line).await.is_err() {
                    return;
                }
            }
        }
        if !follow {
            return;
        }
        // The container stopped: wait for it to start again.
        loop {
            tokio::select! {
                got = started.recv() => match got {
                    Ok(started) if started == id => break,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tx.closed() => return,
            }
        }
        since = last.as_deref().and_then(epoch_seconds).unwrap_or(0);
    }
}

impl Engine {
    /// The logs of the given services (all when empty), merged as they arrive; `follow` keeps
    /// the stream open, across restarts and recreations. Dropping the receiver stops every
    /// stream.
    pub async fn logs(
        &self,
        project: &Project,
        services: &[String],
        follow: bool,
        tail: Option<usize>,
    ) -> Result<mpsc::Receiver<LogLine>, EngineError> {
        let wanted = |service: &str| services.is_empty() || services.iter().any(|s| s == service);
        let (tx, rx) = mpsc::channel(1024);
        let (started_tx, _) = broadcast::channel(64);
        // The events from a second before the containers are listed (the request goes out only
        // when the stream is first read): a start between the two is not missed, and one seen
        // twice is streamed once.
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs().saturating_sub(1));
        let mut events = follow.then(|| {
            let mut filters: HashMap<String, Vec<String>> = labels::project_filter(&project.name);
            filters.insert("type".into(), vec!["container".into()]);
            filters.insert("event".into(), vec!["start".into()]);
            self.docker.events(Some(EventsOptions {
                since: Some(since.to_string()),
                filters: Some(filters),
                ..Default::default()
            }))
        });
        let mut streamed = std::collections::HashSet::new();
        for c in self.containers(&project.name).await? {
            if wanted(&c.service) {
                let task = follow_container(
                    self.docker.clone(),
                    c.id.clone(),
                    c.service,
                    follow,
                    tail,
                    started_tx.subscribe(),
                    tx.clone(),
                );
                tokio::spawn(task);
                streamed.insert(c.id);
            }
        }
        if let Some(mut events) = events.take() {
            let docker = self.docker.clone();
            let services = services.to_vec();
            tokio::spawn(async move {
                loop {
                    let event = tokio::select! {
                        next = events.next() => match next {
                            Some(Ok(e)) => e,
                            _ => return,
                        },
                        _ = tx.closed() => return,
                    };
                    let actor = event.actor.unwrap_or_default();
                    let (Some(id), Some(attrs)) = (actor.id, actor.attributes) else {
                        continue;
                    };
                    let Some(service) = attrs.get(labels::SERVICE) else {
                        continue;
                    };
                    if !(services.is_empty() || services.contains(service)) {
                        continue;
                    }
                    if streamed.insert(id.clone()) {
                        // A container created since the stream began: all of its lines.
                        let rx = started_tx.subscribe();
                        tokio::spawn(follow_container(
                            docker.clone(),
                            id,
                            service.clone(),
                            true,
                            None,
                            rx,
                            tx.clone(),
                        ));
                    } else {
                        let _ = started_tx.send(id);
                    }
                }
            });
        }
        Ok(rx)
    }
}

#[cfg(test)]
mod tests {
    use super::{epoch_seconds, split_line, stamp};

    #[test]
    fn timestamps_compare_in_time_order_whatever_zeros_the_engine_trimmed() {
        assert!(stamp("2026-11-30T11:26:35.1Z") > stamp("2026-11-30T11:26:35.09Z"));
        assert!(stamp("2026-11-30T11:26:35.100000001Z") > stamp("2026-11-30T11:26:35.1Z"));
        assert_eq!(stamp("2026-11-30T11:26:35Z"), "2026-11-30T11:26:35.000000000Z");
    }

    #[test]
    fn seconds_since_the_epoch_of_an_engine_timestamp() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00.5Z"), Some(0));
        assert_eq!(epoch_seconds("2000-03-01T00:00:01Z"), Some(951_868_801));
        assert_eq!(epoch_seconds("2026-11-30T11:26:35.123Z"), Some(1_796_037_995));
        assert_eq!(epoch_seconds("garbage"), None);
    }

    #[test]
    fn a_line_splits_into_its_timestamp_and_text() {
        assert_eq!(
            split_line("2026-11-30T11:26:35.1Z hello world"),
            (Some("2026-11-30T11:26:35.1Z".to_string()), "hello world")
        );
        assert_eq!(split_line("no stamp here"), (None, "no stamp here"));
    }
}
