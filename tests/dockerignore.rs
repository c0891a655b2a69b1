//! `.dockerignore` against plain `docker build` (the docker CLI's classic builder, which tars
//! the context itself) on the same context: for each ignore file of the table, the image that
//! `sirius-deck build` makes holds exactly the files that `docker build`'s image holds. The
//! table has what leaks secrets when it is not applied as Docker applies it: negations, `**`,
//! dotfiles, `*.pem`, `.env*`, `certs/*.key`, excluded folders with exceptions inside.

use deck_tests::*;
use std::process::Command;

const FILES: &[&str] = &[
    ".env",
    ".env.local",
    ".gitkeep",
    ".hidden/x",
    "server.pem",
    "certs/server.key",
    "certs/public.crt",
    "certs/sub/deep.key",
    "src/main.rs",
    "src/test_a.rs",
    "src/mod/test_b.rs",
    "src/mod/lib.rs",
    "a.txt",
    "b.txt",
    "c.txt",
    "file1.md",
    "file10.md",
    "build/out.bin",
    "sub/build/keep.txt",
    "docs/README.md",
    "docs/api/x.md",
    "node_modules/m/index.js",
    "web/node_modules/m/index.js",
    "logs/app.log",
    "keep/deep/app.log",
    "secrets/README.md",
    "secrets/token",
    "spaced.txt",
    "#hash.txt",
];

const TABLE: &[(&str, &str)] = &[
    ("secrets by name", "*.pem\n.env*\ncerts/*.key\n"),
    ("negation under **", "**/*.log\n!keep/**/*.log\n"),
    ("everything but src", "*\n!src\n"),
    (
        "an excluded folder with an exception inside",
        "secrets\n!secrets/README.md\n",
    ),
    ("rooted, dotted and deep", "/build/\n./docs/**\n**/node_modules\n"),
    ("dotfiles but one", ".*\n!.gitkeep\n"),
    ("classes and single characters", "src/**/test_*\n[ab]*.txt\nfile?.md\n"),
    (
        "comments, spaces, escapes",
        "# a comment\n  spaced.txt  \n\\#hash.txt\n",
    ),
    (
        "the Dockerfile and the ignore file are always sent",
        "Dockerfile\n.dockerignore\n**\n!src/main.rs\n",
    ),
];

/// Every path under /ctx in an image, sorted.
fn files_in(image: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["run", "--rm", "--entrypoint", "find", image, "/ctx", "-mindepth", "1"])
        .output()
        .expect("docker run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut files: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    files.sort();
    files
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{cmd:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_context_holds_what_docker_builds_context_holds() {
    let root = std::env::temp_dir().join(format!("deck-dockerignore-{}", std::process::id()));
    let ctx = root.join("ctx");
    let _ = std::fs::remove_dir_all(&root);
    for f in FILES {
        let p = ctx.join(f);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, f).expect("write");
    }
    std::fs::write(ctx.join("Dockerfile"), "FROM debian:bookworm-slim\nCOPY . /ctx/\n").expect("Dockerfile");
    let compose = root.join("compose.yaml");
    std::fs::write(
        &compose,
        "services:\n  ctx:\n    build: ./ctx\n    image: deckignore-ours\n",
    )
    .expect("compose");

    let mut differences = Vec::new();
    for (name, ignore) in TABLE {
        std::fs::write(ctx.join(".dockerignore"), ignore).expect(".dockerignore");
        run(Command::new("docker")
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-t", "deckignore-plain"])
            .arg(&ctx));
        run(Command::new(cli())
            .args(["-p", "deckignore", "-f"])
            .arg(&compose)
            .arg("build"));
        let (plain, ours) = (files_in("deckignore-plain"), files_in("deckignore-ours"));
        if plain != ours {
            let only = |a: &[String], b: &[String]| a.iter().filter(|x| !b.contains(x)).cloned().collect::<Vec<_>>();
            differences.push(format!(
                "{name} ({ignore:?}): only docker build sends {:?}; only sirius-deck sends {:?}",
                only(&plain, &ours),
                only(&ours, &plain)
            ));
        }
        println!("{name}: the same {} paths in both images", ours.len());
    }
    let _ = Command::new("docker")
        .args(["rmi", "-f", "deckignore-plain", "deckignore-ours"])
        .output();
    let _ = std::fs::remove_dir_all(&root);
    assert!(differences.is_empty(), "contexts differ:\n{}", differences.join("\n"));
}
