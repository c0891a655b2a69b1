// ELK in a worker of its own, started for one layout and ended after it: the page does not keep
// ELK's code or heap (see layout.ts). Tests run ELK in-process instead (src/test-setup.ts).
import ELK from "elkjs/lib/elk-api";
import workerUrl from "elkjs/lib/elk-worker.min.js?url";
import type { ElkRun } from "./layout";

export const elkRun: ElkRun = async (graph) => {
  const elk = new ELK({ workerFactory: () => new Worker(workerUrl) });
  try {
    return await elk.layout(graph);
  } finally {
    elk.terminateWorker();
  }
};
