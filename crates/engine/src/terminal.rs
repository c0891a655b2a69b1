//! A shell in a container: an exec with a TTY, attached, its output streamed as text and its
//! size following the viewer's. The engine does not end an exec when its client goes away, so
//! closing it ([`Terminal::close`]) hangs up every process started from it: each carries the
//! shell's own mark in its environment.

use crate::{Context, Engine, EngineError};
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt;
use std::pin::Pin;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Mutex};

/// The container's shell: the user's login shell (`$SHELL`), else bash, else ash, else
/// `/bin/sh`, whichever the image has.
const SHELL: &str =
    r#"for s in "$SHELL" /bin/bash /bin/ash; do [ -n "$s" ] && [ -x "$s" ] && exec "$s" -l; done; exec /bin/sh"#;

/// An open shell in a container. Its output comes from the receiver returned with it.
pub struct Terminal {
    /// The engine the shell runs on, kept for as long as the shell (an SSH engine's tunnel
    /// closes when its last clone is dropped).
    engine: crate::Engine,
    exec: String,
    /// The value of `SIRIUS_DECK_SHELL` in the environment of the shell and what it starts.
    mark: String,
    input: Mutex<Pin<Box<dyn AsyncWrite + Send>>>,
    /// The container the shell runs in.
    pub container: String,
}

/// The size of a terminal, in characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct TermSize {
    pub cols: u16,
    pub rows: u16,
}

impl Engine {
    /// Opens a shell with a TTY of `size` in `container`. Its output arrives as text (UTF-8
    /// sequences never split between two messages) until the shell ends or the receiver is
    /// dropped.
    pub async fn open_terminal(
        &self,
        container: &str,
        size: TermSize,
    ) -> Result<(Terminal, mpsc::Receiver<String>), EngineError> {
        let what = || format!("opening a shell in {container}");
        let mark = format!("{:016x}", rand_u64());
        let created = self
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(vec!["/bin/sh".to_string(), "-c".into(), SHELL.into()]),
                    env: Some(vec!["TERM=xterm-256color".to_string(), format!("{MARK}={mark}")]),
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(true),
                    ..Default::default()
                },
            )
            .await
            .context(what)?;
        let started = self
            .docker
            .start_exec(
                &created.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: true,
                    output_capacity: None,
                }),
            )
            .await
            .context(what)?;
        let StartExecResults::Attached { mut output, input } = started else {
            return Err(EngineError::Session(format!(
                "the engine did not attach to the shell in {container}"
            )));
        };
        let terminal = Terminal {
            engine: self.clone(),
            exec: created.id,
            mark,
            input: Mutex::new(input),
            container: container.to_string(),
        };
        terminal.resize(size).await?;
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            let mut text = Utf8Stream::default();
            loop {
                let chunk = tokio::select! {
                    next = output.next() => match next {
                        Some(Ok(chunk)) => chunk.into_bytes(),
                        _ => return,
                    },
                    _ = tx.closed() => return,
                };
                let piece = text.push(&chunk);
                if !piece.is_empty() && tx.send(piece).await.is_err() {
                    return;
                }
            }
        });
        Ok((terminal, rx))
    }
}

const MARK: &str = "SIRIUS_DECK_SHELL";

/// A random number for a shell's mark (from the kernel, through the standard library's hasher
/// seed: no extra dependency).
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

impl Terminal {
    /// Ends the shell and whatever runs from it (a hang-up to each process carrying its mark);
    /// a container that has stopped meanwhile is fine.
    pub async fn close(&self) {
        let find = format!(
            r#"for e in /proc/[0-9]*/environ; do if tr '\0' '\n' < "$e" 2>/dev/null | grep -qx "{MARK}={}"; then p="${{e%/environ}}"; kill -HUP "${{p#/proc/}}" 2>/dev/null; fi; done; true"#,
            self.mark
        );
        let docker = &self.engine.docker;
        let Ok(created) = docker
            .create_exec(
                &self.container,
                CreateExecOptions {
                    cmd: Some(vec!["/bin/sh".to_string(), "-c".into(), find]),
                    ..Default::default()
                },
            )
            .await
        else {
            return;
        };
        let detached = StartExecOptions {
            detach: true,
            ..Default::default()
        };
        let _ = docker.start_exec(&created.id, Some(detached)).await;
    }

    /// Types `data` into the shell.
    pub async fn write(&self, data: &[u8]) -> Result<(), EngineError> {
        let mut input = self.input.lock().await;
        let io = |e: std::io::Error| EngineError::Session(format!("the shell in {} has ended: {e}", self.container));
        input.write_all(data).await.map_err(io)?;
        input.flush().await.map_err(io)
    }

    /// Gives the shell's TTY a new size (a zero size is ignored).
    pub async fn resize(&self, size: TermSize) -> Result<(), EngineError> {
        if size.cols == 0 || size.rows == 0 {
            return Ok(());
        }
        let opts = bollard::query_parameters::ResizeExecOptions {
            w: i32::from(size.cols),
            h: i32::from(size.rows),
        };
        self.engine
            .docker
            .resize_exec(&self.exec, opts)
            .await
            .context(|| format!("resizing the shell in {}", self.container))
    }
}

/// Bytes in, text out: a UTF-8 sequence cut between two chunks is kept until it is whole;
/// bytes that are not UTF-8 become U+FFFD.
#[derive(Default)]
pub(crate) struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    pub(crate) fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let whole = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            // An incomplete sequence at the end (error_len None) waits for the next chunk.
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => {
                // Invalid bytes inside: keep only a possibly incomplete tail (at most 3 bytes).
                let tail = (self.pending.len().saturating_sub(3)..self.pending.len())
                    .find(|&i| std::str::from_utf8(&self.pending[i..]).is_err_and(|e| e.error_len().is_none()))
                    .unwrap_or(self.pending.len());
                tail
            }
        };
        let rest = self.pending.split_off(whole);
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending = rest;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Utf8Stream;

    #[test]
    fn a_character_cut_between_chunks_is_whole_in_the_text() {
        let bytes = "é→ok".as_bytes();
        let mut s = Utf8Stream::default();
        let mut text = String::new();
        for b in bytes {
            text.push_str(&s.push(&[*b]));
        }
        assert_eq!(text, "é→ok");
    }

    #[test]
    fn bytes_that_are_not_utf8_become_replacement_characters() {
        let mut s = Utf8Stream::default();
        assert_eq!(s.push(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(s.push(b"\xe2\x86"), "");
        assert_eq!(s.push(b"\x92"), "→");
    }
}
