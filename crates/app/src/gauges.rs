//! Which resource samples a view needs: the engine streams one per container each second,
//! most of them the same as the one before to the eye. A gauge shows use against the
//! service's limit, so a sample is worth drawing only when it moves the gauge visibly, or
//! when the service is shown in detail (its chart moves with every sample).

use crate::lifecycle::NEAR_MEMORY_LIMIT;
use crate::target::Stack;
use deck_engine::Usage;
use std::collections::HashMap;

/// A visible move: a fiftieth of the gauge (a pixel or more of a node's gauge).
const STEP: f64 = 1.0 / 50.0;
/// What a gauge measures against when its service has no limit: one core, and this much memory.
const CPU_SCALE_WITHOUT_LIMIT: f64 = 100.0;
const MEMORY_SCALE_WITHOUT_LIMIT: f64 = 256.0 * 1048576.0;

/// What a view last drew of each container, and the scale of each service's gauges.
pub struct Gauges {
    /// Percent of one core and bytes, by service.
    scales: HashMap<String, Scale>,
    /// By container name.
    drawn: HashMap<String, Drawn>,
}

#[derive(Clone, Copy)]
struct Scale {
    cpu: f64,
    memory: f64,
    memory_limit: Option<f64>,
}

#[derive(Clone, Copy)]
struct Drawn {
    cpu: f64,
    memory: f64,
    near_limit: bool,
}

impl Gauges {
    pub fn new(stack: &Stack) -> Self {
        let scales = stack
            .project
            .services
            .iter()
            .map(|(name, s)| {
                let memory_limit = s.memory_limit().map(|l| l as f64);
                let scale = Scale {
                    cpu: s.cpu_limit().map_or(CPU_SCALE_WITHOUT_LIMIT, |c| c * 100.0),
                    memory: memory_limit.unwrap_or(MEMORY_SCALE_WITHOUT_LIMIT),
                    memory_limit,
                };
                (name.clone(), scale)
            })
            .collect();
        Gauges {
            scales,
            drawn: HashMap::new(),
        }
    }

    /// Whether a view draws `u`, and if so whether it is at or near the memory limit: always
    /// when `detailed`, else only when it moves a gauge of its container visibly (or crosses
    /// the near-the-memory-limit mark). What is drawn becomes the mark the next sample is
    /// measured from.
    pub fn draws(&mut self, u: &Usage, detailed: bool) -> Option<bool> {
        let scale = self.scales.get(&u.service).copied().unwrap_or(Scale {
            cpu: CPU_SCALE_WITHOUT_LIMIT,
            memory: MEMORY_SCALE_WITHOUT_LIMIT,
            memory_limit: None,
        });
        let memory = u.memory_bytes as f64;
        let near_limit = scale.memory_limit.is_some_and(|l| memory >= NEAR_MEMORY_LIMIT * l);
        let now = Drawn {
            cpu: u.cpu_percent,
            memory,
            near_limit,
        };
        let moved = match self.drawn.get(&u.container) {
            None => true,
            Some(was) => {
                (now.cpu - was.cpu).abs() >= STEP * scale.cpu
                    || (now.memory - was.memory).abs() >= STEP * scale.memory
                    || now.near_limit != was.near_limit
            }
        };
        if !(moved || detailed) {
            return None;
        }
        self.drawn.insert(u.container.clone(), now);
        Some(near_limit)
    }

    /// Forgets what was drawn: the next sample of each container is drawn (the view was away).
    pub fn forget(&mut self) {
        self.drawn.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack() -> Stack {
        let dir = std::env::temp_dir().join(format!("deck-gauges-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let file = dir.join("compose.yaml");
        std::fs::write(
            &file,
            "services:\n  db:\n    image: postgres\n    deploy:\n      resources:\n        limits:\n          cpus: '0.5'\n          memory: 100M\n  free:\n    image: busybox\n",
        )
        .expect("write");
        let target = crate::Target {
            files: vec![file],
            project_name: Some("gauges".into()),
            ..Default::default()
        };
        let stack = target.load().expect("loads");
        let _ = std::fs::remove_dir_all(&dir);
        stack
    }

    fn sample(service: &str, cpu: f64, mib: f64) -> Usage {
        Usage {
            service: service.into(),
            container: format!("{service}-1"),
            cpu_percent: cpu,
            memory_bytes: (mib * 1048576.0) as u64,
        }
    }

    #[test]
    fn only_visible_moves_are_drawn() {
        let mut g = Gauges::new(&stack());
        // The first sample of a container is drawn; jitter below a fiftieth of the limit is not.
        assert_eq!(g.draws(&sample("db", 1.0, 40.0), false), Some(false));
        assert_eq!(g.draws(&sample("db", 1.9, 41.9), false), None);
        // Measured from what was drawn, not from the last sample: a slow drift is drawn once it
        // adds up to a visible move (1% of half a core, 2 MiB of 100 MiB).
        assert_eq!(g.draws(&sample("db", 1.9, 41.5), false), None);
        assert_eq!(g.draws(&sample("db", 2.1, 41.5), false), Some(false));
        assert_eq!(g.draws(&sample("db", 2.5, 43.0), false), None);
        assert_eq!(g.draws(&sample("db", 2.5, 43.6), false), Some(false));
        // Crossing 90% of the memory limit is drawn, whatever the step.
        assert_eq!(g.draws(&sample("db", 2.5, 89.9), false), Some(false));
        assert_eq!(g.draws(&sample("db", 2.5, 89.95), false), None);
        assert_eq!(g.draws(&sample("db", 2.5, 90.0), false), Some(true));
        // Shown in detail, every sample is drawn.
        assert_eq!(g.draws(&sample("db", 2.5, 90.0), true), Some(true));
        // Without a limit, the scale is one core and 256 MiB.
        assert_eq!(g.draws(&sample("free", 0.0, 10.0), false), Some(false));
        assert_eq!(g.draws(&sample("free", 1.9, 15.0), false), None);
        assert_eq!(g.draws(&sample("free", 2.1, 15.0), false), Some(false));
        assert_eq!(g.draws(&sample("free", 2.1, 255.0), false), Some(false));
        // After the view was away, the next sample of each is drawn.
        g.forget();
        assert_eq!(g.draws(&sample("db", 2.5, 90.0), false), Some(true));
    }
}
