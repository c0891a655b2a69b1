//! An empty Tauri 2 window: one static page, no framework, nothing running. `bench/idle.sh`
//! measures Sirius Deck against it.

fn main() {
    if let Err(e) = tauri::Builder::default().run(tauri::generate_context!()) {
        eprintln!("empty-window: cannot start: {e}");
        std::process::exit(1);
    }
}
