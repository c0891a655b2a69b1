//! Just enough of the WebDriver protocol to drive the real window through tauri-driver:
//! a session, finding elements, clicking, reading attributes and text, running a script.

use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub struct Session {
    base: String,
    id: String,
    agent: ureq::Agent,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn call(agent: &ureq::Agent, method: &str, url: &str, body: Option<Value>) -> Result<Value, String> {
    let response = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, Some(b)) => agent.post(url).send_json(b),
        (_, None) => agent.post(url).send_json(json!({})),
    };
    let mut response = response.map_err(|e| format!("{method} {url}: {e}"))?;
    let v: Value = response
        .body_mut()
        .read_json()
        .map_err(|e| format!("{method} {url}: {e}"))?;
    if let Some(err) = v["value"].get("error") {
        return Err(format!("{method} {url}: {err}: {}", v["value"]["message"]));
    }
    Ok(v["value"].clone())
}

impl Session {
    /// Starts the application at `app` through the WebDriver server at `server`.
    pub fn start(server: &str, app: &str) -> Result<Session, String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let caps = json!({ "capabilities": { "alwaysMatch": { "tauri:options": { "application": app } } } });
        let v = call(&agent, "POST", &format!("{server}/session"), Some(caps))?;
        let id = v["sessionId"].as_str().ok_or("no session id")?.to_string();
        Ok(Session {
            base: format!("{server}/session/{id}"),
            id,
            agent,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The element matching a CSS selector, if there is one now.
    pub fn find(&self, css: &str) -> Option<String> {
        let v = call(
            &self.agent,
            "POST",
            &format!("{}/element", self.base),
            Some(json!({"using": "css selector", "value": css})),
        )
        .ok()?;
        v[ELEMENT].as_str().map(str::to_string)
    }

    /// Waits for an element.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> Result<String, String> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(e) = self.find(css) {
                return Ok(e);
            }
            if Instant::now() > end {
                return Err(format!("no element {css} after {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn click(&self, element: &str) -> Result<(), String> {
        call(
            &self.agent,
            "POST",
            &format!("{}/element/{element}/click", self.base),
            Some(json!({})),
        )
        .map(|_| ())
    }

    /// Types into an element (focusing it first); "\u{E007}" is the Enter key.
    pub fn send_keys(&self, element: &str, text: &str) -> Result<(), String> {
        call(
            &self.agent,
            "POST",
            &format!("{}/element/{element}/value", self.base),
            Some(json!({ "text": text })),
        )
        .map(|_| ())
    }

    pub fn attr(&self, element: &str, name: &str) -> Option<String> {
        call(
            &self.agent,
            "GET",
            &format!("{}/element/{element}/attribute/{name}", self.base),
            None,
        )
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
    }

    pub fn text(&self, element: &str) -> String {
        call(
            &self.agent,
            "GET",
            &format!("{}/element/{element}/text", self.base),
            None,
        )
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
    }

    /// Runs a script in the page and returns what it returns.
    pub fn execute(&self, script: &str) -> Result<Value, String> {
        call(
            &self.agent,
            "POST",
            &format!("{}/execute/sync", self.base),
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Runs a script that calls its last argument with its result, and returns that result.
    pub fn execute_async(&self, script: &str) -> Result<Value, String> {
        call(
            &self.agent,
            "POST",
            &format!("{}/execute/async", self.base),
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// `data-status` of the node of a service.
    pub fn node_status(&self, service: &str) -> Option<String> {
        let e = self.find(&format!("[data-testid='node-{service}']"))?;
        self.attr(&e, "data-status")
    }

    pub fn close(self) {
        let _ = call(&self.agent, "DELETE", &self.base, None);
    }
}
