//! Which resource samples a view needs: the engine streams one per container each second,
//! most of them the same as the one before to the eye. A gauge shows use against the
//! service's limit, so a sample is worth drawing only when it moves the gauge visibly, or
//! when the service is shown in detail (its chart moves with every sample). A node's gauges
//! show its last three samples (30 s of readings): memory the least of them, CPU their mean. A
//! spike shorter than the time between two readings (a RabbitMQ health check starts a whole
//! Erlang node for a second or two, every 30 s) is not what the service holds or uses, and
//! would flip the gauges at every other reading: the mean of 30 s holds one such spike at every
//! reading, and stays. A lasting rise of memory shows at the third reading, a fall at once; a
//! lasting change of CPU shows a third of it at the next reading, all of it at the third.

use crate::lifecycle::NEAR_MEMORY_LIMIT;
use crate::target::Stack;
use deck_engine::Usage;
use std::collections::{HashMap, VecDeque};

/// A visible move of the memory gauge: a fiftieth of it (a pixel or more of a node's gauge).
const MEMORY_STEP: f64 = 1.0 / 50.0;
/// A visible move of the CPU gauge: a 25th of it (3 pixels of a node's gauge). CPU readings
/// of an idle service are noisier than a fiftieth: RabbitMQ's health check costs 0.4 to 1.1 s
/// of CPU each time, which moves the mean of its last three readings by 1 to 2.6% of a core
/// from one reading to the next with no change of load, one to two fiftieths of its gauge at a
/// limit of half a core (that redrew it at most readings).
const CPU_STEP: f64 = 1.0 / 25.0;
/// What a gauge measures against when its service has no limit: one core, and this much memory.
const CPU_SCALE_WITHOUT_LIMIT: f64 = 100.0;
const MEMORY_SCALE_WITHOUT_LIMIT: f64 = 256.0 * 1048576.0;
/// A node's gauges show this many samples: memory the least of them, CPU their mean.
const SAMPLES: usize = 3;

/// What a view last drew of each container, and the scale of each service's gauges.
pub struct Gauges {
    /// Percent of one core and bytes, by service.
    scales: HashMap<String, Scale>,
    /// By container name.
    drawn: HashMap<String, Drawn>,
    /// The last samples of each container (percent of one core, bytes), by container name.
    recent: HashMap<String, VecDeque<(f64, u64)>>,
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
            recent: HashMap::new(),
        }
    }

    /// What a view draws of `u`, if anything, and whether that is at or near the memory limit:
    /// every sample as it is when `detailed`; else, with the mean CPU and the least memory of
    /// the last samples, only when it moves a gauge of its container visibly (or the newest
    /// sample crosses the near-the-memory-limit mark). What is drawn becomes the mark the next
    /// sample is measured from.
    pub fn draws(&mut self, u: &Usage, detailed: bool) -> Option<(Usage, bool)> {
        let newest = u.memory_bytes as f64;
        let recent = self.recent.entry(u.container.clone()).or_default();
        if recent.len() == SAMPLES {
            recent.pop_front();
        }
        recent.push_back((u.cpu_percent, u.memory_bytes));
        let u = match detailed {
            true => u.clone(),
            false => Usage {
                cpu_percent: recent.iter().map(|s| s.0).sum::<f64>() / recent.len() as f64,
                memory_bytes: recent.iter().map(|s| s.1).min().unwrap_or(u.memory_bytes),
                ..u.clone()
            },
        };
        let scale = self.scales.get(&u.service).copied().unwrap_or(Scale {
            cpu: CPU_SCALE_WITHOUT_LIMIT,
            memory: MEMORY_SCALE_WITHOUT_LIMIT,
            memory_limit: None,
        });
        let memory = u.memory_bytes as f64;
        // Near the limit as soon as the newest reading is (a climb to it warns at once).
        let near_limit = scale.memory_limit.is_some_and(|l| newest >= NEAR_MEMORY_LIMIT * l);
        let now = Drawn {
            cpu: u.cpu_percent,
            memory,
            near_limit,
        };
        let moved = match self.drawn.get(&u.container) {
            None => true,
            Some(was) => {
                (now.cpu - was.cpu).abs() >= CPU_STEP * scale.cpu
                    || (now.memory - was.memory).abs() >= MEMORY_STEP * scale.memory
                    || now.near_limit != was.near_limit
            }
        };
        if !(moved || detailed) {
            return None;
        }
        self.drawn.insert(u.container.clone(), now);
        Some((u, near_limit))
    }

    /// Forgets what was drawn and sampled: the next sample of each container is drawn (the
    /// view was away, and sampling stopped).
    pub fn forget(&mut self) {
        self.drawn.clear();
        self.recent.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stack of two services, one with limits, from a folder of its own (the tests run at
    /// once, and each removes its folder).
    fn stack() -> Stack {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("deck-gauges-{}-{n}", std::process::id()));
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

    /// Whether a sample is drawn, and if so at or near the memory limit.
    fn draws(g: &mut Gauges, u: Usage, detailed: bool) -> Option<bool> {
        g.draws(&u, detailed).map(|(_, near)| near)
    }

    #[test]
    fn only_visible_moves_are_drawn() {
        let mut g = Gauges::new(&stack());
        // The first sample of a container is drawn; jitter below a visible move is not (a 25th
        // of the CPU limit, a fiftieth of the memory limit).
        assert_eq!(draws(&mut g, sample("db", 1.0, 40.0), false), Some(false));
        assert_eq!(draws(&mut g, sample("db", 2.9, 41.9), false), None);
        // Measured from what was drawn, not from the last sample: a slow drift is drawn once it
        // adds up to a visible move (2% of half a core; CPU the mean of the last three).
        assert_eq!(draws(&mut g, sample("db", 2.9, 41.5), false), None);
        assert_eq!(draws(&mut g, sample("db", 3.3, 41.5), false), Some(false));
        // A lasting rise of memory is drawn once the last three samples show it.
        assert_eq!(draws(&mut g, sample("db", 2.3, 89.9), false), None);
        assert_eq!(draws(&mut g, sample("db", 2.3, 89.9), false), None);
        assert_eq!(draws(&mut g, sample("db", 2.3, 89.9), false), Some(false));
        // Crossing 90% of the memory limit is drawn at once, whatever the step.
        assert_eq!(draws(&mut g, sample("db", 2.3, 90.0), false), Some(true));
        assert_eq!(draws(&mut g, sample("db", 2.3, 90.0), false), None);
        // Shown in detail, every sample is drawn as it is.
        let (shown, _) = g.draws(&sample("db", 2.1, 20.0), true).expect("drawn");
        assert_eq!(shown.memory_bytes, 20 * 1048576);
        // Without a limit, the scale is one core and 256 MiB: a step of CPU is 4% of a core.
        assert_eq!(draws(&mut g, sample("free", 0.0, 10.0), false), Some(false));
        assert_eq!(draws(&mut g, sample("free", 6.3, 10.0), false), None);
        assert_eq!(draws(&mut g, sample("free", 6.3, 10.0), false), Some(false));
        // After the view was away, the next sample of each is drawn.
        g.forget();
        assert_eq!(draws(&mut g, sample("db", 2.1, 90.0), false), Some(true));
    }

    #[test]
    fn a_cpu_spike_every_third_reading_is_not_a_change() {
        let mut g = Gauges::new(&stack());
        let cpu =
            |g: &mut Gauges, percent: f64| g.draws(&sample("db", percent, 40.0), false).map(|(u, _)| u.cpu_percent);
        assert_eq!(cpu(&mut g, 1.0), Some(1.0));
        // A health check every 30 s, read every 10 s: one reading in three holds it. The gauge
        // takes it in once, then stays, whichever reading holds the spike.
        assert_eq!(cpu(&mut g, 6.0), Some(3.5));
        for percent in [1.0, 1.0, 6.0, 1.0, 1.0, 6.0, 1.0, 1.0, 6.0] {
            assert_eq!(cpu(&mut g, percent), None);
        }
        // A lasting change shows a third of it at the next reading, all of it at the third.
        let mut g = Gauges::new(&stack());
        assert_eq!(cpu(&mut g, 1.0), Some(1.0));
        assert_eq!(cpu(&mut g, 1.0), None);
        assert_eq!(cpu(&mut g, 1.0), None);
        assert_eq!(cpu(&mut g, 10.0), Some(4.0));
        assert_eq!(cpu(&mut g, 10.0), Some(7.0));
        assert_eq!(cpu(&mut g, 10.0), Some(10.0));
        // Shown in detail, a reading is drawn as it is.
        let (shown, _) = g.draws(&sample("db", 1.0, 40.0), true).expect("drawn");
        assert_eq!(shown.cpu_percent, 1.0);
    }

    #[test]
    fn a_memory_spike_between_readings_is_not_a_change() {
        let mut g = Gauges::new(&stack());
        let memory = |g: &mut Gauges, mib: f64| {
            g.draws(&sample("db", 0.0, mib), false)
                .map(|(u, _)| u.memory_bytes / 1048576)
        };
        assert_eq!(memory(&mut g, 40.0), Some(40));
        // Readings in a health check's spike, one in two or two in three: the gauge stays.
        for mib in [80.0, 40.0, 80.0, 80.0, 40.0, 80.0, 40.0, 40.0] {
            assert_eq!(memory(&mut g, mib), None);
        }
        // A lasting rise shows at the third reading, a fall at once.
        assert_eq!(memory(&mut g, 60.0), None);
        assert_eq!(memory(&mut g, 60.0), None);
        assert_eq!(memory(&mut g, 60.0), Some(60));
        assert_eq!(memory(&mut g, 30.0), Some(30));
    }
}
