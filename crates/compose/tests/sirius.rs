//! The real Sirius compose files (tests/fixtures/sirius, copied unchanged from upstream) load
//! as `docker compose` reads them.

use deck_compose::{load, Condition, LoadOptions, Loaded, Severity};
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/sirius")
        .canonicalize()
        .expect("fixture exists")
}

fn options(override_file: &str) -> LoadOptions {
    let dir = fixture();
    LoadOptions {
        files: vec![dir.join("docker-compose.yaml"), dir.join(override_file)],
        // Only what a test sets: no variable of the machine running the tests leaks in.
        environment: [("HOME".to_string(), "/home/user".to_string())].into(),
        ..Default::default()
    }
}

fn load_env(override_file: &str) -> Loaded {
    load(&options(override_file)).expect("fixture loads")
}

#[test]
fn dev_keeps_base_dependencies_and_warns_at_the_empty_depends_on() {
    let loaded = load_env("docker-compose.dev.yaml");
    let ui = &loaded.project.services["sirius-ui"];
    assert_eq!(ui.image.as_deref(), Some("sirius-sirius-ui:dev"));
    assert_eq!(ui.build.as_ref().and_then(|b| b.target.as_deref()), Some("development"));
    assert_eq!(ui.environment["NODE_ENV"].as_deref(), Some("development"));
    let published: Vec<&str> = ui.ports.iter().filter_map(|p| p.published.as_deref()).collect();
    assert_eq!(published, ["3000", "3001"], "ports 3000 and 3001 once each");
    for dep in ["sirius-postgres", "sirius-api", "sirius-rabbitmq"] {
        assert_eq!(ui.depends_on[dep].condition, Condition::ServiceHealthy, "{dep}");
        assert!(ui.depends_on[dep].required);
    }
    let w = loaded
        .warnings
        .iter()
        .find(|w| w.key == "services.sirius-ui.depends_on")
        .expect("lint on depends_on: []");
    assert_eq!(w.severity, Severity::Warning);
    assert_eq!(
        w.file.as_deref(),
        Some(fixture().join("docker-compose.dev.yaml").as_path())
    );
    let dev_text = std::fs::read_to_string(fixture().join("docker-compose.dev.yaml")).expect("read");
    let line = dev_text
        .lines()
        .position(|l| l.trim() == "depends_on: []")
        .expect("line")
        + 1;
    assert_eq!(w.line, Some(line));
    assert!(w.message.contains("!reset []"));
}

#[test]
fn dev_resolves_names_paths_and_secrets() {
    let p = load_env("docker-compose.dev.yaml").project;
    assert_eq!(p.name, "sirius");
    assert_eq!(p.networks["default"].name, "sirius");
    assert_eq!(p.volumes["node_modules"].name, "sirius_node_modules");
    assert_eq!(
        p.secrets["sirius_api_key"].file.as_deref(),
        Some(fixture().join("secrets/sirius_api_key.txt").as_path())
    );
    let api = &p.services["sirius-api"];
    assert_eq!(api.secrets[0].target, "/run/secrets/sirius_api_key");
    assert_eq!(api.user.as_deref(), Some("1001:1001"));
    let bind = api.volumes.iter().find(|m| m.target == "/api").expect("bind");
    assert_eq!(
        bind.source.as_deref(),
        Some(fixture().join("sirius-api").to_str().expect("utf8"))
    );
    assert_eq!(p.container_name("sirius-api"), "sirius-api");
    let migrate = &p.services["sirius-migrate"];
    assert_eq!(
        migrate.entrypoint.as_deref(),
        Some(&["go".to_string(), "run".into(), "./cmd/migrate".into()][..])
    );
    let order = p.startup_order();
    let pos = |s: &str| order.iter().position(|x| x == s).expect(s);
    assert!(pos("sirius-postgres") < pos("sirius-migrate"));
    assert!(pos("sirius-migrate") < pos("sirius-api"));
    assert!(pos("sirius-api") < pos("sirius-engine"));
    assert!(pos("sirius-api") < pos("sirius-ui"));
}

#[test]
fn prod_api_environment_image_and_limits() {
    let p = load_env("docker-compose.prod.yaml").project;
    let api = &p.services["sirius-api"];
    assert_eq!(
        api.environment["CORS_ALLOWED_ORIGINS"].as_deref(),
        Some("http://localhost:3000,https://sirius.local")
    );
    assert_eq!(api.image.as_deref(), Some("ghcr.io/siriusscan/sirius-api:v1.0.0"));
    assert_eq!(api.memory_limit(), Some(1_073_741_824));
    assert_eq!(api.cpu_limit(), Some(1.0));
    assert_eq!(p.networks["default"].name, "sirius");
    assert_eq!(p.volumes["postgres_data"].name, "sirius_postgres_data");
    let hc = api.healthcheck.as_ref().expect("healthcheck");
    assert_eq!(hc.interval, Some(std::time::Duration::from_secs(30)));
    assert_eq!(hc.retries, Some(3));
}

#[test]
fn missing_password_lists_every_use_with_file_line_and_message() {
    let dir = fixture();
    let env_without = std::env::temp_dir().join(format!("deck-nopw-{}.env", std::process::id()));
    let text = std::fs::read_to_string(dir.join(".env")).expect("env");
    std::fs::write(
        &env_without,
        text.lines()
            .filter(|l| !l.starts_with("POSTGRES_PASSWORD"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .expect("write");
    let mut opts = options("docker-compose.prod.yaml");
    opts.env_files = vec![env_without.clone()];
    let err = load(&opts).expect_err("must fail");
    std::fs::remove_file(&env_without).ok();
    // Four uses in the base file and three in the prod override.
    assert_eq!(err.errors.len(), 7, "{err}");
    for e in &err.errors {
        assert!(e.key.ends_with("POSTGRES_PASSWORD"), "{e}");
        assert!(e.message.contains("POSTGRES_PASSWORD is required"), "{e}");
        assert!(e.message.contains("Run installer first"), "{e}");
        let file = e.file.as_ref().expect("file");
        let src = std::fs::read_to_string(file).expect("read");
        let line = src.lines().nth(e.line.expect("line") - 1).expect("line exists");
        assert!(line.contains("${POSTGRES_PASSWORD:?"), "{e} points at {line:?}");
    }
    let files: Vec<_> = err
        .errors
        .iter()
        .filter_map(|e| e.file.as_ref())
        .map(|f| f.file_name().expect("name").to_owned())
        .collect();
    assert!(files.iter().any(|f| f == "docker-compose.prod.yaml"));
    assert!(files.iter().any(|f| f == "docker-compose.yaml"));
}

#[test]
fn shell_environment_beats_dot_env() {
    let mut opts = options("docker-compose.prod.yaml");
    opts.environment.insert("IMAGE_TAG".into(), "v2.0.0".into());
    let p = load(&opts).expect("loads").project;
    assert_eq!(
        p.services["sirius-api"].image.as_deref(),
        Some("ghcr.io/siriusscan/sirius-api:v2.0.0")
    );
}

#[test]
fn plain_text_secrets_are_linted_and_masked_in_config() {
    let loaded = load_env("docker-compose.dev.yaml");
    assert!(loaded
        .warnings
        .iter()
        .any(|w| w.key == "services.sirius-ui.environment.NEXTAUTH_SECRET" && w.line.is_some()));
    let masked = deck_compose::to_yaml(&deck_compose::config_json(&loaded.project, false));
    for secret in [
        "fixture-pg-password",
        "development-secret-key",
        "fixture-admin-password",
    ] {
        assert!(!masked.contains(secret), "{secret} leaked");
    }
    let shown = deck_compose::to_yaml(&deck_compose::config_json(&loaded.project, true));
    assert!(shown.contains("fixture-pg-password"));
    for d in &loaded.warnings {
        assert!(!d.to_string().contains("development-secret-key"), "{d}");
    }
}
