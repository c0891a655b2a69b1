// ELK in-process for the tests (jsdom has no Worker): the same layout the window computes.
import { vi } from "vitest";

vi.mock("./elk", async () => {
  const { default: ELK } = await import("elkjs/lib/elk.bundled.js");
  const elk = new ELK();
  return { elkRun: (graph: unknown) => elk.layout(graph as never) };
});

// jsdom has no matchMedia (xterm.js asks it for the pixel ratio): one that matches nothing.
if (!window.matchMedia) {
  window.matchMedia = (query: string) =>
    ({ matches: false, media: query, onchange: null, addListener() {}, removeListener() {}, addEventListener() {}, removeEventListener() {}, dispatchEvent: () => false }) as MediaQueryList;
}

// jsdom lays nothing out, so nothing is ever resized: an observer that never fires.
if (!("ResizeObserver" in window)) {
  (window as { ResizeObserver?: unknown }).ResizeObserver = class {
    observe() {}
    unobserve() {}
    disconnect() {}
  };
}
