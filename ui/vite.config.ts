import { defineConfig } from "vite";

// The Tauri window loads the built files; esbuild compiles the JSX (no React plugin needed).
export default defineConfig({
  esbuild: { jsx: "automatic" },
  clearScreen: false,
  build: { outDir: "dist", target: "es2022", sourcemap: false },
  test: { environment: "jsdom", globals: true, setupFiles: ["src/test-setup.ts"] },
});
