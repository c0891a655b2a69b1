/// The app's commands, read from the capability that `cargo test -p sirius-deck-app` generates
/// from `src/commands.rs` (one list, written once): declaring them makes each one a permission
/// that the capability grants.
fn commands() -> Vec<String> {
    let path = "capabilities/default.json";
    println!("cargo:rerun-if-changed={path}");
    let text = std::fs::read_to_string(path).expect("capabilities/default.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("capability JSON");
    json["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .filter_map(|p| p.as_str()?.strip_prefix("allow-"))
        .map(|c| c.replace('-', "_"))
        .collect()
}

/// A release link places the functions that run while the window starts and idles first and
/// together (the list `scripts/hot-code.sh` writes): the kernel maps code around each page that
/// runs, so hot code spread over the whole binary kept most of it resident (10 MiB for 3 MB that
/// ran). A linker script gathers their sections ahead of the rest of the code: first each one by
/// its exact name, then, for a Rust function, every instance by its name without the hash that
/// ends it. That hash changes with the crate that instantiates a generic function (a dependency
/// added to this crate changed 486 of them), and such a function then still lands near the hot
/// code rather than anywhere in the cold code. A function missing from the list (new, or renamed
/// since) lands among the cold code.
fn hot_code_first() {
    let list = "hot-code.txt";
    println!("cargo:rerun-if-changed={list}");
    if std::env::var("PROFILE").as_deref() != Ok("release") {
        return;
    }
    let Ok(names) = std::fs::read_to_string(list) else {
        return;
    };
    let names: Vec<&str> = names.lines().filter(|l| !l.is_empty()).collect();
    // `#[cold]` functions sit in `.text.unlikely.` sections.
    let sections = |name: &str| format!("    *(.text.{name} .text.unlikely.{name})\n");
    let mut script = String::from("SECTIONS {\n  .text : {\n");
    script.extend(names.iter().map(|name| sections(name)));
    let mut any_hash: Vec<String> = names.iter().filter_map(|name| without_hash(name)).collect();
    any_hash.dedup();
    script.extend(any_hash.iter().map(|name| sections(&format!("{name}17h*E"))));
    script.push_str("  }\n} INSERT BEFORE .fini;\n");
    let path = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("hot-code.ld");
    std::fs::write(&path, script).expect("hot-code.ld");
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", path.display());
}

/// A Rust symbol's name without its hash (`_ZN...17h<16 hex digits>E`).
fn without_hash(symbol: &str) -> Option<String> {
    let body = symbol.strip_prefix("_ZN")?.strip_suffix('E')?;
    let (name, hash) = body.split_at_checked(body.len().checked_sub(19)?)?;
    let hex = hash.strip_prefix("17h")?;
    hex.bytes().all(|b| b.is_ascii_hexdigit()).then(|| format!("_ZN{name}"))
}

fn main() {
    hot_code_first();
    let commands = commands();
    let names: &'static [&'static str] = Vec::leak(commands.into_iter().map(|c| &*String::leak(c)).collect());
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(names)),
    )
    .expect("tauri build script");
}
