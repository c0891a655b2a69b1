// ELK in-process for the tests (jsdom has no Worker): the same layout the window computes.
import { vi } from "vitest";

vi.mock("./elk", async () => {
  const { default: ELK } = await import("elkjs/lib/elk.bundled.js");
  const elk = new ELK();
  return { elkRun: (graph: unknown) => elk.layout(graph as never) };
});
