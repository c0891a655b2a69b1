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
/// ran). Rust's default linker on this target is lld, which reads the list; a function missing
/// from it (new, or renamed since) only lands among the cold code.
fn hot_code_first() {
    let path = "hot-code.txt";
    println!("cargo:rerun-if-changed={path}");
    if std::env::var("PROFILE").as_deref() == Ok("release") && std::path::Path::new(path).exists() {
        let path = std::fs::canonicalize(path).expect("hot-code.txt");
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            path.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
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
