//! The shells the window has open, by id: each one's output streamed to its own channel, its
//! input typed and its size set through commands, closed with its panel (or when it ends).

use deck_app::{Code, Error};
use deck_engine::{TermSize, Terminal};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tauri::async_runtime::JoinHandle;
use tauri::ipc::Channel;
use ts_rs::TS;

/// What a shell sends the window: its output, then its end.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[ts(export)]
pub enum TermOutput {
    Data {
        text: String,
    },
    /// The shell ended (it exited, or the container stopped).
    Ended,
}

struct Open {
    terminal: Arc<Terminal>,
    forward: JoinHandle<()>,
}

#[derive(Default)]
pub struct Terminals {
    open: Arc<Mutex<HashMap<u32, Open>>>,
    next: AtomicU32,
}

fn poisoned<T>(_: T) -> Error {
    Error::new(Code::Internal, "state lock poisoned")
}

impl Terminals {
    /// Keeps an opened shell and streams its output to `channel`; returns its id.
    pub fn add(
        &self,
        terminal: Terminal,
        mut output: tokio::sync::mpsc::Receiver<String>,
        channel: Channel<TermOutput>,
    ) -> Result<u32, Error> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let open = self.open.clone();
        let mut map = self.open.lock().map_err(poisoned)?;
        let forward = tauri::async_runtime::spawn(async move {
            while let Some(text) = output.recv().await {
                if channel.send(TermOutput::Data { text }).is_err() {
                    break;
                }
            }
            let _ = channel.send(TermOutput::Ended);
            // What the shell started in the background ends with it (the page may be gone too).
            let ended = open.lock().ok().and_then(|mut m| m.remove(&id));
            if let Some(o) = ended {
                o.terminal.close().await;
            }
        });
        map.insert(
            id,
            Open {
                terminal: Arc::new(terminal),
                forward,
            },
        );
        Ok(id)
    }

    fn get(&self, id: u32) -> Result<Arc<Terminal>, Error> {
        let map = self.open.lock().map_err(poisoned)?;
        map.get(&id)
            .map(|o| o.terminal.clone())
            .ok_or_else(|| Error::invalid("this shell has ended: open a new one"))
    }

    pub async fn input(&self, id: u32, data: &str) -> Result<(), Error> {
        Ok(self.get(id)?.write(data.as_bytes()).await?)
    }

    pub async fn resize(&self, id: u32, size: TermSize) -> Result<(), Error> {
        Ok(self.get(id)?.resize(size).await?)
    }

    /// Ends every shell (the app is quitting).
    pub async fn close_all(&self) {
        let ids: Vec<u32> = self
            .open
            .lock()
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default();
        for id in ids {
            self.close(id).await;
        }
    }

    /// Ends the shell and what runs from it; an unknown id is fine (it had ended).
    pub async fn close(&self, id: u32) {
        let open = self.open.lock().ok().and_then(|mut m| m.remove(&id));
        if let Some(o) = open {
            o.forward.abort();
            o.terminal.close().await;
        }
    }
}
