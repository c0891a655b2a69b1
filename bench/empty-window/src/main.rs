//! An empty Tauri 2 window: one static page, no framework, nothing running. `bench/idle.sh`
//! measures Sirius Deck against it, and `bench/launch.sh` times its launch beside the app's:
//! the page says when its first frame is drawn (the one command it has), as the app's page does.

/// The page's first frame is drawn: prints the moment, as the app does (`live::drawn`).
#[tauri::command]
fn drawn() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        eprintln!("empty-window: first frame drawn (unix ms {at})");
    });
}

fn main() {
    if let Err(e) = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![drawn])
        .run(tauri::generate_context!())
    {
        eprintln!("empty-window: cannot start: {e}");
        std::process::exit(1);
    }
}
