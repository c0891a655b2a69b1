// Says when the first frame is drawn (bench/launch.sh), as the app's page does: the frame after
// the one the page was laid out for.
requestAnimationFrame(() => requestAnimationFrame(() => window.__TAURI_INTERNALS__.invoke("drawn")));
