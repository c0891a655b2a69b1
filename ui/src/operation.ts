// One runner for every long action (up, down, switch, repair, backup, verify, restore): busy
// state, the progress it streams (one event vocabulary for all of them), cancel, and the error.
import { useCallback, useReducer, useRef, useState } from "react";
import { apiError } from "./backend";
import type { ApiError } from "./bindings/ApiError";
import type { Event } from "./bindings/Event";
import type { FailureReport } from "./bindings/FailureReport";
import type { Op } from "./bindings/Op";
import type { Phase } from "./bindings/Phase";

export const PHASE_LABEL: Record<Phase, string> = {
  building: "building",
  built: "built",
  unchanged: "unchanged",
  created: "created",
  recreated: "recreated",
  starting: "starting",
  started: "started",
  waiting_health: "waiting for health",
  waiting_exit: "running once",
  ready: "ready",
  failed: "failed",
  skipped: "skipped",
  stopping: "stopping",
  stopped: "stopped",
  removed: "removed",
  orphan: "orphan",
  paused: "paused",
  unpaused: "unpaused",
};

export const OP_LABEL: Record<Op, string> = {
  backup: "Backing up",
  safety: "Safety backup of the current data",
  verify: "Verifying",
  restore: "Restoring",
  rollback: "Rolling back",
};

export interface Bar {
  op: Op;
  label: string;
  done: number;
  total: number | null;
  /** The total is the engine's estimate (a backup's sizes before reading). */
  estimate: boolean;
  finished: boolean;
}

export interface Progress {
  /** The last phase of each service in this operation. */
  phases: Record<string, Phase>;
  /** What happened, as lines for the progress log (bounded). */
  lines: string[];
  /** Bytes per file of a backup, verification or restore. */
  bars: Record<string, Bar>;
  failures: FailureReport[];
}

export const NO_PROGRESS: Progress = { phases: {}, lines: [], bars: {}, failures: [] };
const MAX_LINES = 500;

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** Applies one progress event. */
export function applyEvent(p: Progress, e: Event): Progress {
  const line = (text: string): Progress => ({ ...p, lines: [...p.lines.slice(-(MAX_LINES - 1)), text] });
  const key = (op: Op, item: string) => `${op}/${item}`;
  switch (e.event) {
    case "service":
      return {
        ...line(`${secs(e.elapsed_ms)}  ${e.service}  ${PHASE_LABEL[e.phase]}${e.detail ? "  " + e.detail : ""}`),
        phases: { ...p.phases, [e.service]: e.phase },
      };
    case "build_output":
      return line(`   ${e.service} │ ${e.line}`);
    case "resource":
      return line(`   ${e.kind} ${e.name} ${e.action}`);
    case "failure":
      return { ...p, failures: [...p.failures.filter((f) => f.service !== e.service), e] };
    case "step":
      return line(`── ${e.message}`);
    case "plan": {
      const bars = { ...p.bars };
      for (const i of e.items) bars[key(e.op, i.item)] = { op: e.op, label: i.description, done: 0, total: i.total, estimate: i.estimate, finished: false };
      return { ...line(`── ${OP_LABEL[e.op]} ${e.set}`), bars };
    }
    case "bytes": {
      const b = p.bars[key(e.op, e.item)];
      const bar: Bar = { op: e.op, label: b?.label ?? e.item, done: e.done, total: e.total ?? b?.total ?? null, estimate: b?.estimate ?? false, finished: b?.finished ?? false };
      return { ...p, bars: { ...p.bars, [key(e.op, e.item)]: bar } };
    }
    case "item_done": {
      const b = p.bars[key(e.op, e.item)];
      // Done: the true total is what was read, whatever the estimate said.
      const bar: Bar = { op: e.op, label: b?.label ?? e.item, done: e.raw, total: e.raw, estimate: false, finished: true };
      return { ...p, bars: { ...p.bars, [key(e.op, e.item)]: bar } };
    }
    case "done":
      return line(`── ${OP_LABEL[e.op]} ${e.set}: done in ${secs(e.elapsed_ms)}`);
  }
}

type Reset = { reset: true };

export interface Operation {
  /** The name of the operation running, if any. */
  busy: string | null;
  progress: Progress;
  error: ApiError | null;
  /** Runs `work` with a callback for its progress events; resolves to its result, or to
   * `undefined` when it failed (the error is kept). One operation at a time. */
  run<T>(name: string, work: (onEvent: (e: Event) => void) => Promise<T>, cancel?: () => Promise<unknown>): Promise<T | undefined>;
  /** Cancels the running operation when it can be cancelled. */
  cancel: (() => void) | null;
  clear(): void;
}

export function useOperation(): Operation {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [cancel, setCancel] = useState<(() => void) | null>(null);
  const [progress, dispatch] = useReducer((p: Progress, e: Event | Reset) => ("reset" in e ? NO_PROGRESS : applyEvent(p, e)), NO_PROGRESS);
  const running = useRef(false);

  const run = useCallback(async <T,>(name: string, work: (onEvent: (e: Event) => void) => Promise<T>, cancelWith?: () => Promise<unknown>) => {
    if (running.current) return undefined;
    running.current = true;
    setBusy(name);
    setError(null);
    dispatch({ reset: true });
    setCancel(() => (cancelWith ? () => void cancelWith() : null));
    try {
      return await work(dispatch);
    } catch (e) {
      setError(apiError(e));
      return undefined;
    } finally {
      running.current = false;
      setBusy(null);
      setCancel(null);
    }
  }, []);

  const clear = useCallback(() => {
    setError(null);
    dispatch({ reset: true });
  }, []);

  return { busy, progress, error, run, cancel, clear };
}
