import "@xyflow/react/dist/style.css";
import "./styles.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { countTimers } from "./activity";
import { App } from "./App";
import { listenFromNow, startBoot } from "./boot";
import { paintTheme, storedTheme } from "./store";
import { tauriBackend } from "./tauri";

performance.mark("deck:scripts");
// The first frame in the theme chosen last (the app's store confirms it when the stacks come).
paintTheme(storedTheme());
countTimers(window);
// The app is asked for the first stack now: it answers while React renders the page.
const [backend, listening] = listenFromNow(tauriBackend);
const boot = startBoot(backend, listening);
const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App backend={backend} boot={boot} />
    </StrictMode>,
  );
}
