import "@xyflow/react/dist/style.css";
import "./styles.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { countTimers } from "./activity";
import { App } from "./App";
import { resolveTheme, storedTheme } from "./store";
import { tauriBackend } from "./tauri";

// The first frame in the theme chosen last (the app's store confirms it when the stacks come).
document.documentElement.dataset.theme = resolveTheme(storedTheme(), window.matchMedia("(prefers-color-scheme: dark)").matches);
countTimers(window);
const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App backend={tauriBackend} />
    </StrictMode>,
  );
}
