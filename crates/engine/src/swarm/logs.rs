//! A swarm stack's logs: each service's tasks merged by the manager (`docker service logs`),
//! a task started later (after a reschedule) followed too.

use super::spec;
use crate::{Engine, EngineError, LogLine};
use bollard::query_parameters::LogsOptions;
use deck_compose::Project;
use futures_util::StreamExt;
use tokio::sync::mpsc;

impl Engine {
    /// The logs of the stack's services on the swarm (all when `services` is empty), each
    /// merged across its tasks by the manager; `follow` keeps them open. Dropping the receiver
    /// stops every stream.
    pub async fn swarm_logs(
        &self,
        project: &Project,
        services: &[String],
        follow: bool,
        tail: Option<usize>,
    ) -> Result<mpsc::Receiver<LogLine>, EngineError> {
        // Refused as a deploy refuses it, when the engine is no manager.
        self.swarm_nodes().await?;
        let (tx, rx) = mpsc::channel(1024);
        let names: Vec<String> = if services.is_empty() {
            project.services.keys().cloned().collect()
        } else {
            services.to_vec()
        };
        for service in names {
            let full = spec::service_name(project, &service);
            let (docker, tx) = (self.docker.clone(), tx.clone());
            let opts = LogsOptions {
                follow,
                stdout: true,
                stderr: true,
                timestamps: true,
                tail: tail.map_or("all".to_string(), |n| n.to_string()),
                ..Default::default()
            };
            tokio::spawn(async move {
                let mut stream = docker.service_logs(&full, Some(opts));
                loop {
                    let chunk = tokio::select! {
                        next = stream.next() => match next {
                            Some(Ok(chunk)) => chunk,
                            // Why the stream ended, as the service's last line (a service not
                            // deployed, a manager gone).
                            Some(Err(e)) => {
                                let line = LogLine {
                                    service: service.clone(),
                                    timestamp: None,
                                    stderr: true,
                                    line: format!("sirius-deck: the logs of {full} cannot be read: {e}"),
                                };
                                let _ = tx.send(line).await;
                                return;
                            }
                            None => return,
                        },
                        _ = tx.closed() => return,
                    };
                    for line in crate::logs::log_lines(&chunk, &service) {
                        if tx.send(line).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
        Ok(rx)
    }
}
