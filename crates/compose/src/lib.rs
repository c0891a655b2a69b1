//! Loads Docker Compose projects exactly as `docker compose` v2 reads them (compose-go): YAML
//! with anchors and merge keys, `.env` files, interpolation, override files merged by the
//! compose specification's rules, profiles and resource names, into a typed model. Pure: files
//! in, model out; nothing here talks to a Docker engine.
//!
//! ```no_run
//! let opts = deck_compose::LoadOptions::new(["docker-compose.yaml", "docker-compose.dev.yaml"]);
//! let loaded = deck_compose::load(&opts).expect("valid files");
//! for name in loaded.project.startup_order() {
//!     println!("{name}");
//! }
//! ```

mod diag;
pub mod env;
mod extend;
mod go_order;
pub mod goval;
mod hash;
pub mod interp;
mod load;
pub mod merge;
pub mod model;
mod normalize;
mod output;
mod schema;
pub mod secrets;
mod shape;
pub mod syntax;
pub mod yaml;

pub use diag::{Diagnostic, LoadError, Severity};
pub use hash::service_hash;
pub use load::{load, load_sources, normalize_project_name, LoadOptions, Loaded, Source};
pub use model::*;
pub use output::{config_json, to_yaml};
