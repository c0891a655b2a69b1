//! Load, merge and normalise a generated project of 500 services with a base file and an
//! override (issue: under 50 ms). Run with `cargo bench -p deck-compose`.

use criterion::{criterion_group, criterion_main, Criterion};
use deck_compose::{load_sources, LoadOptions, Source};
use std::hint::black_box;
use std::path::Path;

/// A base file and an override shaped like Sirius's, for `n` services.
pub fn generated(n: usize) -> (Source, Source) {
    let mut base = String::from(
        "name: bench\nx-common: &common\n  restart: unless-stopped\n  logging: {driver: json-file}\nservices:\n",
    );
    let mut over = String::from("services:\n");
    for i in 0..n {
        let dep = if i > 0 {
            format!(
                "    depends_on:\n      svc-{}:\n        condition: service_healthy\n",
                i - 1
            )
        } else {
            String::new()
        };
        base.push_str(&format!(
            "  svc-{i}:\n    <<: *common\n    image: registry.local/svc-{i}:${{TAG:-latest}}\n    environment:\n      - LEVEL=${{LEVEL:-info}}\n      - PORT={port}\n      - DB_PASSWORD=${{DB_PASSWORD:?needed}}\n    ports:\n      - \"{port}:{port}\"\n    volumes:\n      - data-{i}:/data\n      - ./conf/{i}:/etc/conf:ro\n{dep}    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 30s\n      timeout: 5s\n      retries: 3\n    deploy:\n      resources:\n        limits: {{memory: 512M, cpus: \"0.5\"}}\n",
            port = 10000 + i
        ));
        over.push_str(&format!(
            "  svc-{i}:\n    build: {{context: ./svc-{i}, target: development}}\n    environment:\n      LEVEL: debug\n    ports:\n      - \"{p}:{p}\"\n    depends_on: []\n",
            p = 20000 + i
        ));
    }
    base.push_str("volumes:\n");
    for i in 0..n {
        base.push_str(&format!("  data-{i}:\n"));
    }
    (
        Source {
            path: "/bench/compose.yaml".into(),
            text: base,
        },
        Source {
            path: "/bench/compose.dev.yaml".into(),
            text: over,
        },
    )
}

fn bench(c: &mut Criterion) {
    let (base, over) = generated(500);
    let sources = [base, over];
    let env = [Source {
        path: "/bench/.env".into(),
        text: "DB_PASSWORD=x\nTAG=1.0\n".into(),
    }];
    let opts = LoadOptions::default();
    let loaded = load_sources(&sources, &env, Path::new("/bench"), &opts).expect("generated project loads");
    assert_eq!(loaded.project.services.len(), 500);
    c.bench_function("load_merge_normalise_500_services", |b| {
        b.iter(|| load_sources(black_box(&sources), black_box(&env), Path::new("/bench"), &opts).expect("loads"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
