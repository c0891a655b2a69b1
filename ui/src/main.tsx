import "@xyflow/react/dist/style.css";
import "./styles.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { countTimers } from "./activity";
import { App } from "./App";
import { paintTheme, storedTheme } from "./store";
import { tauriBackend } from "./tauri";

// The first frame in the theme chosen last (the app's store confirms it when the stacks come).
paintTheme(storedTheme());
countTimers(window);
const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App backend={tauriBackend} />
    </StrictMode>,
  );
}
