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

fn main() {
    let commands = commands();
    let names: &'static [&'static str] = Vec::leak(commands.into_iter().map(|c| &*String::leak(c)).collect());
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(names)),
    )
    .expect("tauri build script");
}
