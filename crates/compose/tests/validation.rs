//! Validation and project-level rules: every error at once, each with file, line and key.

use deck_compose::{load_sources, normalize_project_name, LoadError, LoadOptions, Loaded, Source};
use std::path::Path;

fn src(name: &str, text: &str) -> Source {
    Source {
        path: Path::new("/proj").join(name),
        text: text.to_string(),
    }
}

fn run(files: &[(&str, &str)], env: &[(&str, &str)], opts: LoadOptions) -> Result<Loaded, LoadError> {
    let sources: Vec<Source> = files.iter().map(|(n, t)| src(n, t)).collect();
    let mut opts = opts;
    opts.environment
        .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    load_sources(&sources, &[], Path::new("/proj/my App"), &opts)
}

fn ok(text: &str) -> Loaded {
    run(&[("compose.yaml", text)], &[], LoadOptions::default()).expect("loads")
}

fn errors(text: &str) -> LoadError {
    run(&[("compose.yaml", text)], &[], LoadOptions::default()).expect_err("fails")
}

#[test]
fn all_errors_are_reported_together_with_line_and_key() {
    let e = errors(
        "services:\n  web:\n    image: x\n    depends_on: [db, nope]\n    ports: ['70000:80']\n    healthcheck:\n      test: [CMD, 'true']\n      interval: 10\n    secrets: [missing]\n  db:\n    image: y\n    depends_on: [web]\n    restart: sometimes\n    mem_limit: lots\nsecrets:\n  missing:\n    file: ./does-not-exist.txt\n",
    );
    let find = |key: &str, text: &str| {
        e.errors
            .iter()
            .find(|d| d.key == key && d.message.contains(text))
            .unwrap_or_else(|| panic!("no error {key} / {text} in:\n{e}"))
    };
    assert_eq!(
        find("services.web.depends_on", "undefined service 'nope'").line,
        Some(4)
    );
    assert_eq!(find("services.web.ports[0]", "65535").line, Some(5));
    assert_eq!(
        find("services.web.healthcheck.interval", "not a duration").line,
        Some(8)
    );
    assert_eq!(find("secrets.missing.file", "does not exist").line, Some(17));
    assert!(
        e.errors
            .iter()
            .any(|d| d.key.ends_with("depends_on") && d.message.contains("dependency cycle: ")),
        "{e}"
    );
    assert_eq!(find("services.db.restart", "restart policy").line, Some(13));
    assert_eq!(find("services.db.mem_limit", "not a size").line, Some(14));
    for d in &e.errors {
        assert_eq!(d.file.as_deref(), Some(Path::new("/proj/compose.yaml")), "{d}");
    }
}

#[test]
fn unknown_keys_get_a_suggestion() {
    let e = errors("services:\n  web:\n    image: x\n    enviroment: {A: 1}\n");
    assert!(e.errors[0].message.contains("did you mean 'environment'"), "{e}");
    assert_eq!(e.errors[0].line, Some(4));
    let e = errors("servics:\n  web: {image: x}\n");
    assert!(e.errors.iter().any(|d| d.key == "servics"), "{e}");
}

#[test]
fn yaml_errors_name_the_line() {
    let e = errors("services:\n  web:\n    image: [unclosed\n");
    assert!(e.errors[0].message.starts_with("invalid YAML"), "{e}");
    assert!(e.errors[0].line.is_some());
}

#[test]
fn project_name_precedence_and_normalisation() {
    let text = "name: from-file\nservices:\n  web: {image: x}\n";
    assert_eq!(ok(text).project.name, "from-file");
    let p = run(
        &[("c.yaml", text)],
        &[("COMPOSE_PROJECT_NAME", "from-env")],
        LoadOptions::default(),
    )
    .expect("ok");
    assert_eq!(p.project.name, "from-env");
    let opts = LoadOptions {
        project_name: Some("from-flag".into()),
        ..Default::default()
    };
    let p = run(&[("c.yaml", text)], &[("COMPOSE_PROJECT_NAME", "from-env")], opts).expect("ok");
    assert_eq!(p.project.name, "from-flag");
    // The folder "my App" becomes "myapp".
    let p = ok("services:\n  web: {image: x}\n").project;
    assert_eq!(p.name, "myapp");
    assert_eq!(p.container_name("web"), "myapp-web-1");
    assert_eq!(p.networks["default"].name, "myapp_default");
    assert_eq!(normalize_project_name("_My.Project-1"), "myproject-1");
    let opts = LoadOptions {
        project_name: Some("Bad Name".into()),
        ..Default::default()
    };
    assert!(run(&[("c.yaml", text)], &[], opts).is_err());
}

#[test]
fn resource_names() {
    let p = ok("services:\n  web:\n    image: x\n    volumes: [data:/d, ext:/e, named:/n]\n    networks: [back]\nvolumes:\n  data:\n  ext: {external: true}\n  named: {name: custom}\nnetworks:\n  back: {}\n").project;
    assert_eq!(p.volumes["data"].name, "myapp_data");
    assert_eq!(p.volumes["ext"].name, "ext");
    assert_eq!(p.volumes["named"].name, "custom");
    assert_eq!(p.networks["back"].name, "myapp_back");
}

#[test]
fn profiles_activate_services() {
    let text = "services:\n  web: {image: x}\n  debug: {image: y, profiles: [debug]}\n  tools: {image: z, profiles: [tools]}\n";
    let p = ok(text).project;
    assert_eq!(p.services.keys().collect::<Vec<_>>(), ["web"]);
    let opts = LoadOptions {
        profiles: vec!["debug".into()],
        ..Default::default()
    };
    let p = run(&[("c.yaml", text)], &[], opts).expect("ok").project;
    assert_eq!(p.services.keys().collect::<Vec<_>>(), ["debug", "web"]);
    let p = run(
        &[("c.yaml", text)],
        &[("COMPOSE_PROFILES", "debug,tools")],
        LoadOptions::default(),
    )
    .expect("ok")
    .project;
    assert_eq!(p.services.len(), 3);
    let e = errors("services:\n  web: {image: x, depends_on: [debug]}\n  debug: {image: y, profiles: [debug]}\n");
    assert!(e.errors[0].message.contains("profile(s) debug"), "{e}");
}

#[test]
fn typed_values_are_cast_after_interpolation() {
    let files = [("c.yaml", "services:\n  web:\n    image: x\n    ports: ['${PORT}:80']\n    privileged: ${PRIV}\n    deploy:\n      resources:\n        limits: {memory: '${MEM}', cpus: '${CPUS}'}\n    healthcheck: {test: 'curl -f http://x', retries: '${RETRIES}'}\n")];
    let env = [
        ("PORT", "8080"),
        ("PRIV", "true"),
        ("MEM", "256m"),
        ("CPUS", "0.5"),
        ("RETRIES", "4"),
    ];
    let p = run(&files, &env, LoadOptions::default()).expect("ok").project;
    let web = &p.services["web"];
    assert_eq!(web.ports[0].published.as_deref(), Some("8080"));
    assert!(web.privileged);
    assert_eq!(web.memory_limit(), Some(268_435_456));
    assert_eq!(web.cpu_limit(), Some(0.5));
    let hc = web.healthcheck.as_ref().expect("hc");
    assert_eq!(hc.retries, Some(4));
    assert_eq!(hc.test, ["CMD-SHELL", "curl -f http://x"]);
}

#[test]
fn unset_variables_warn_once_and_become_empty() {
    let l = ok("services:\n  web:\n    image: x${NOPE}\n    environment:\n      - A=${NOPE}\n");
    assert_eq!(l.project.services["web"].image.as_deref(), Some("x"));
    let warnings: Vec<_> = l
        .warnings
        .iter()
        .filter(|w| w.message.contains("\"NOPE\" variable is not set"))
        .collect();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].line, Some(3));
}

#[test]
fn keys_are_not_interpolated_and_dollar_dollar_escapes() {
    let l = run(
        &[(
            "c.yaml",
            "services:\n  web:\n    image: x\n    environment:\n      ${K}: $$HOME\n",
        )],
        &[("K", "v")],
        LoadOptions::default(),
    )
    .expect("ok");
    assert_eq!(l.project.services["web"].environment["${K}"].as_deref(), Some("$HOME"));
}

#[test]
fn override_files_use_reset_and_override() {
    let base = "services:\n  web:\n    image: x\n    ports: ['80:80']\n    depends_on: [db]\n  db: {image: y}\n";
    let over = "services:\n  web:\n    depends_on: !reset []\n    ports: !override ['81:81']\n";
    let l = run(&[("a.yaml", base), ("b.yaml", over)], &[], LoadOptions::default()).expect("ok");
    let web = &l.project.services["web"];
    assert!(web.depends_on.is_empty());
    assert_eq!(web.ports.len(), 1);
    assert_eq!(web.ports[0].target, 81);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn environment_list_entries_without_value_inherit() {
    let l = run(
        &[(
            "c.yaml",
            "services:\n  web:\n    image: x\n    environment: [FROM_ENV, MISSING]\n",
        )],
        &[("FROM_ENV", "yes")],
        LoadOptions::default(),
    )
    .expect("ok");
    let env = &l.project.services["web"].environment;
    assert_eq!(env["FROM_ENV"].as_deref(), Some("yes"));
    assert_eq!(env["MISSING"], None);
}

/// Files on disk for `extends` and `include`, in a fresh folder.
fn on_disk(name: &str, files: &[(&str, &str)]) -> Result<Loaded, LoadError> {
    let dir = std::env::temp_dir().join(format!("deck-compose-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (f, text) in files {
        let p = dir.join(f);
        std::fs::create_dir_all(p.parent().expect("test setup")).expect("test setup");
        std::fs::write(&p, text).expect("test setup");
    }
    let opts = LoadOptions {
        files: vec![dir.join(files[0].0)],
        ..Default::default()
    };
    let loaded = deck_compose::load(&opts);
    std::fs::remove_dir_all(&dir).expect("test setup");
    loaded
}

#[test]
fn extends_chains_across_files_with_paths_from_each_file() {
    let p = on_disk(
        "extends",
        &[
            ("compose.yaml", "services:\n  web:\n    extends: {file: lib/base.yaml, service: base}\n    environment: {B: '2'}\n"),
            ("lib/base.yaml", "services:\n  root:\n    image: x\n    environment: {A: '1', B: '1'}\n  base:\n    extends: root\n    build: ./app\n    volumes: ['./data:/data']\n"),
        ],
    )
    .expect("loads")
    .project;
    let web = &p.services["web"];
    assert_eq!(web.image.as_deref(), Some("x"));
    assert_eq!(web.environment["A"].as_deref(), Some("1"));
    assert_eq!(web.environment["B"].as_deref(), Some("2"));
    assert!(web.build.as_ref().expect("test setup").context.ends_with("/lib/app"));
    assert!(web.volumes[0]
        .source
        .as_deref()
        .expect("test setup")
        .ends_with("/lib/data"));
}

#[test]
fn extends_and_include_errors_name_file_line_and_key() {
    let e = on_disk(
        "cycle",
        &[("compose.yaml", "services:\n  a:\n    image: x\n    extends: b\n  b:\n    image: x\n    extends: a\n  c:\n    extends: {file: nope.yaml, service: c}\n")],
    )
    .expect_err("refused");
    let has = |key: &str, line: usize, text: &str| {
        e.errors
            .iter()
            .any(|d| d.key == key && d.line == Some(line) && d.message.contains(text))
    };
    assert!(has("services.a.extends", 4, "extends cycle: a -> b -> a"), "{e}");
    assert!(has("services.c.extends.file", 9, "cannot read"), "{e}");
    let e = on_disk(
        "include",
        &[
            ("compose.yaml", "include: [other.yaml]\nservices:\n  a: {image: x}\n"),
            ("other.yaml", "include: [compose.yaml]\nservices:\n  a: {image: y}\n"),
        ],
    )
    .expect_err("refused");
    assert!(e.errors.iter().any(|d| d.message.contains("include cycle")), "{e}");
}

/// Loading registers a stack's secrets with the one redaction layer, but not a weak one that is
/// also an ordinary name of the stack (masking it would mask that name everywhere).
#[test]
fn loading_registers_distinctive_secrets_for_redaction() {
    let compose = "services:\n  sirius-postgres:\n    image: postgres\n    environment:\n      POSTGRES_USER: postgres\n      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\n  api:\n    image: api\n    environment:\n      API_TOKEN: ${API_TOKEN}\n";
    run(
        &[("compose.yaml", compose)],
        &[("POSTGRES_PASSWORD", "postgres"), ("API_TOKEN", "tok-7f3a9c-unique")],
        LoadOptions::default(),
    )
    .expect("loads");
    assert_eq!(
        deck_error::redact::text("sirius-postgres got tok-7f3a9c-unique"),
        "sirius-postgres got ********"
    );
}
