//! The Docker engines the user can choose (the docker CLI's contexts), each asked whether it
//! answers, and which one the program talks to.

use crate::App;
use deck_engine::{Endpoint, Engine};
use serde::Serialize;
use std::time::Duration;
use ts_rs::TS;

/// An engine, with what it said when asked.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct EngineInfo {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// The engine's version (`docker version`), when it answered.
    pub version: Option<String>,
    /// Why it did not answer.
    pub error: Option<String>,
    /// The one this program talks to.
    pub chosen: bool,
}

impl EngineInfo {
    pub fn reachable(&self) -> bool {
        self.version.is_some()
    }
}

/// Every engine (`default` first, then the contexts by name), all asked at once; one that does
/// not answer within 5 s is reported as unreachable.
pub async fn engines(app: &App) -> Vec<EngineInfo> {
    let chosen = app.context();
    let all = deck_engine::endpoint::contexts();
    let asks = all.into_iter().map(|endpoint| {
        let chosen = chosen.as_deref().map_or(endpoint.current, |c| c == endpoint.name);
        async move {
            let asked = tokio::time::timeout(Duration::from_secs(5), async {
                let engine = Engine::connect_to(&endpoint).await.map_err(|e| e.to_string())?;
                let v = engine.docker().version().await.map_err(|e| e.to_string())?;
                Ok::<_, String>(v.version.unwrap_or_else(|| "?".into()))
            })
            .await
            .unwrap_or_else(|_| Err(format!("{} did not answer within 5 s", endpoint.host)));
            let (version, error) = match asked {
                Ok(v) => (Some(v), None),
                Err(e) => (None, Some(deck_error::redact::text(&e).into_owned())),
            };
            EngineInfo {
                endpoint,
                version,
                error,
                chosen,
            }
        }
    });
    futures_util::future::join_all(asks).await
}
