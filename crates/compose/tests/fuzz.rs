//! The loader never panics: arbitrary bytes, and the real Sirius files mutated at random.
//! More cases: `PROPTEST_CASES=20000 cargo test -p deck-compose --test fuzz --release`.

use deck_compose::{load_sources, LoadOptions, Source};
use proptest::prelude::*;
use std::path::Path;

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/sirius")
        .join(name);
    std::fs::read_to_string(p).expect("fixture")
}

fn try_load(base: String, over: String, env: String) {
    let sources = [
        Source {
            path: "/p/docker-compose.yaml".into(),
            text: base,
        },
        Source {
            path: "/p/docker-compose.dev.yaml".into(),
            text: over,
        },
    ];
    let env = [Source {
        path: "/p/.env".into(),
        text: env,
    }];
    let opts = LoadOptions::default();
    match load_sources(&sources, &env, Path::new("/p"), &opts) {
        Ok(loaded) => {
            // Whatever loads must also print.
            let v = deck_compose::config_json(&loaded.project, false);
            let _ = deck_compose::to_yaml(&v);
            let _ = loaded.project.startup_order();
        }
        Err(e) => assert!(!e.errors.is_empty(), "an error without diagnostics"),
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, String),
    DuplicateLine(usize),
    SwapLines(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let tokens = prop::sample::select(vec![
        ":",
        " ",
        "\n",
        "- ",
        "[",
        "]",
        "{",
        "}",
        "&a ",
        "*a",
        "<<: ",
        "!reset ",
        "!override ",
        "${",
        "$",
        "}",
        "${X:?m}",
        "'",
        "\"",
        "#",
        "|\n",
        "  ",
        "\t",
        "~",
        "null",
        "-1",
        "99999",
        "0o7",
        ",",
        "?",
        "\\",
        "\u{0}",
        "é",
        "\n    extends: sirius-api\n",
        "\n    extends: sirius-ui\n",
        "extends: {service: sirius-postgres}",
        "extends: {file: docker-compose.yaml, service: x}",
        "\ninclude: [docker-compose.yaml]\n",
        "\ninclude:\n  - path: [a.yaml]\n    project_directory: ..\n",
    ]);
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), prop::collection::vec(tokens, 1..4)).prop_map(|(a, t)| Mutation::Insert(a, t.concat())),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

fn apply(text: &str, muts: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for m in muts {
        let len = chars.len().max(1);
        match m {
            Mutation::Delete(at, n) => {
                let at = at % len;
                let end = (at + n).min(chars.len());
                if at < end {
                    chars.drain(at..end);
                }
            }
            Mutation::Insert(at, s) => {
                let at = at % (chars.len() + 1);
                chars.splice(at..at, s.chars());
            }
            Mutation::DuplicateLine(i) | Mutation::SwapLines(i, _) => {
                let s: String = chars.iter().collect();
                let mut lines: Vec<&str> = s.lines().collect();
                if lines.is_empty() {
                    continue;
                }
                let a = i % lines.len();
                match m {
                    Mutation::DuplicateLine(_) => lines.insert(a, lines[a]),
                    Mutation::SwapLines(_, j) => {
                        let b = j % lines.len();
                        lines.swap(a, b);
                    }
                    _ => {}
                }
                chars = lines.join("\n").chars().collect();
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    // 400 cases by default; PROPTEST_CASES raises it.
    #![proptest_config(if std::env::var_os("PROPTEST_CASES").is_some() { ProptestConfig::default() } else { ProptestConfig::with_cases(400) })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000), env in ".{0,200}") {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        try_load(text.clone(), text, env);
    }

    #[test]
    fn mutated_sirius_files_never_panic(
        base_muts in prop::collection::vec(mutation(), 0..6),
        over_muts in prop::collection::vec(mutation(), 0..6),
        env_muts in prop::collection::vec(mutation(), 0..3),
    ) {
        let base = apply(&fixture("docker-compose.yaml"), &base_muts);
        let over = apply(&fixture("docker-compose.dev.yaml"), &over_muts);
        let env = apply(&fixture(".env"), &env_muts);
        try_load(base, over, env);
    }
}

#[test]
fn pathological_inputs() {
    let deep = format!(
        "services:\n  web:\n    image: {}x{}\n",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    try_load(deep, String::new(), String::new());
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}]\n",
            j = i - 1
        ));
    }
    try_load(bomb, String::new(), String::new());
    try_load(
        "services:\n  a: {image: x, depends_on: [a]}\n".into(),
        String::new(),
        "A=${A:-${A:-${A}}}\n".into(),
    );
    try_load(
        "services:\n  a: {image: x, ports: ['1-65535:1-65535']}\n".into(),
        String::new(),
        String::new(),
    );
}

/// The hostile inputs of issue 13, each a small file: refused with an error, or loaded, never a
/// crash (a stack overflow aborts the whole process, failing every test here). Their time and
/// memory in a release build: `bench/hostile-inputs.sh`.
pub fn hostile_inputs() -> Vec<(&'static str, String, String)> {
    let mut cases = Vec::new();
    // 10,000 nested block sequences (20 KB).
    cases.push((
        "nested sequences",
        format!(
            "services:\n  a:\n    image: x\n    command:\n      {}x\n",
            "- ".repeat(10_000)
        ),
        String::new(),
    ));
    // 10,000 nested flow mappings.
    cases.push((
        "nested flow mappings",
        format!(
            "services:\n  a:\n    image: x\n    labels: {}x: y{}\n",
            "{a: ".repeat(10_000),
            "}".repeat(10_000)
        ),
        String::new(),
    ));
    // 30 KB of nested defaults, in the file and in .env.
    let nested = format!("{}x{}", "${A:-".repeat(5_000), "}".repeat(5_000));
    cases.push((
        "nested interpolation",
        format!("services:\n  a:\n    image: x\n    environment:\n      B: \"{nested}\"\n"),
        format!("C={nested}\n"),
    ));
    // A 20,000-service depends_on chain.
    let mut chain = String::from("services:\n  s0: {image: x}\n");
    for i in 1..20_000 {
        chain.push_str(&format!("  s{i}: {{image: x, depends_on: [s{}]}}\n", i - 1));
    }
    cases.push(("depends_on chain", chain, String::new()));
    // An alias bomb of long strings: few nodes, many bytes.
    let mut bomb = format!("x-a0: &a0 \"{}\"\n", "b".repeat(60_000));
    for i in 1..8 {
        bomb.push_str(&format!(
            "x-a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 10].join(", ")
        ));
    }
    bomb.push_str("services:\n  a: {image: x}\n");
    cases.push(("alias bomb of bytes", bomb, String::new()));
    // Each variable twice the one before it: 2^2000 bytes if nothing stops it.
    let mut env = String::from("V0=xxxxxxxxxxxxxxxx\n");
    for i in 1..2_000 {
        env.push_str(&format!("V{i}=${{V{}}}${{V{}}}\n", i - 1, i - 1));
    }
    cases.push((
        "doubling variables in .env",
        "services:\n  a: {image: x, environment: [\"X=${V0}\"]}\n".into(),
        env,
    ));
    cases
}

#[test]
fn hostile_inputs_are_refused_or_loaded_never_a_crash() {
    for (name, file, env) in hostile_inputs() {
        let started = std::time::Instant::now();
        try_load(file, String::new(), env);
        println!("{name}: {:?}", started.elapsed());
    }
}

#[test]
fn an_endless_file_is_refused_before_it_fills_the_memory() {
    let opts = deck_compose::LoadOptions {
        files: vec!["/dev/zero".into()],
        project_name: Some("p".into()),
        ..Default::default()
    };
    let err = deck_compose::load(&opts).expect_err("refused");
    assert!(err.to_string().contains("larger than 8 MiB"), "{err}");
}
