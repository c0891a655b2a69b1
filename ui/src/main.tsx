import "@xyflow/react/dist/style.css";
import "./styles.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { countTimers } from "./activity";
import { App } from "./App";
import type { Theme } from "./bindings/Theme";
import { resolveTheme, THEME_KEY } from "./store";
import { tauriBackend } from "./tauri";

// The first frame in the theme chosen last (the app's store confirms it when the stacks come).
const theme = (window.localStorage.getItem(THEME_KEY) ?? "system") as Theme;
document.documentElement.dataset.theme = resolveTheme(theme, window.matchMedia("(prefers-color-scheme: dark)").matches);
countTimers(window);
const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App backend={tauriBackend} />
    </StrictMode>,
  );
}
