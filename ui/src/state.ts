// Pure logic of the diagram: what colour and label a node has, where it sits, and how live
// state events update what the window knows. Tested without a window.
import type { Condition } from "./bindings/Condition";
import type { ContainerStatus } from "./bindings/ContainerStatus";
import type { Phase } from "./bindings/Phase";
import type { ServiceNode } from "./bindings/ServiceNode";
import type { ContainerState } from "./bindings/ContainerState";
import type { StateEvent } from "./bindings/StateEvent";
import type { SwarmState } from "./bindings/SwarmState";
import { PHASE_LABEL } from "./operation";

export type NodeStatus =
  | "planned"
  | "progress"
  | "healthy"
  | "running"
  | "starting"
  | "unhealthy"
  | "completed"
  | "exited"
  | "failed"
  /** Stopped by an operation of ours (a switch, a backup, a restore…): not a crash. */
  | "held"
  /** Stopped by something other than Sirius Deck (`docker stop`, `docker kill`): not a crash. */
  | "outside";

export interface NodeInfo {
  status: NodeStatus;
  label: string;
}

/** What the node knows beyond the engine's state: containers our probe found ready (by name, with
 * the start they were found ready in: a restart is not ready again until probed again), and the
 * operation running, by what it is called ("the switch", "the backup"): while it runs, the
 * containers it stops are stopped for it (what fails in it is its own phase "failed"). */
export interface Known {
  probed?: Record<string, string>;
  operation?: string | null;
}

/** Phases of an operation in flight that the node shows instead of the engine's state. */
const IN_FLIGHT: ReadonlySet<Phase> = new Set<Phase>(["building", "built", "created", "recreated", "starting", "waiting_health", "waiting_exit", "stopping", "skipped", "paused"]);

export function nodeStatus(svc: ServiceNode, c: ContainerStatus | undefined, phase?: Phase, known: Known = {}): NodeInfo {
  if (phase === "failed") return { status: "failed", label: "failed" };
  if (phase && IN_FLIGHT.has(phase)) return { status: "progress", label: PHASE_LABEL[phase] };
  if (!c) return { status: "planned", label: "not created" };
  switch (c.state) {
    case "running":
      if (c.health === "healthy") return { status: "healthy", label: "healthy" };
      if (c.health === "unhealthy") return { status: "unhealthy", label: "unhealthy" };
      // Ready by our own probe before Docker's first health check has run.
      if (c.health === "starting" && known.probed?.[c.name] === (c.started_at ?? "")) return { status: "healthy", label: "ready (Docker's check: starting)" };
      if (c.health === "starting") return { status: "starting", label: "starting" };
      return { status: "running", label: "running" };
    case "restarting":
      return { status: "unhealthy", label: `restarting (${c.restart_count})` };
    case "exited":
    case "dead":
      if (c.oom_killed) return { status: "failed", label: "killed: out of memory" };
      if (c.exit_code === 0 && svc.one_shot) return { status: "completed", label: "completed" };
      if (known.operation) return { status: "held", label: `stopped for ${known.operation}` };
      if (c.stopped_outside) return { status: "outside", label: "stopped from outside" };
      return { status: "exited", label: `exited (${c.exit_code ?? "?"})` };
    case "paused":
      return { status: "starting", label: "paused" };
    default:
      return { status: "starting", label: c.state };
  }
}

/** dev or prod, from the build target the container runs (or the one planned). */
export function envBadge(svc: ServiceNode, c: ContainerStatus | undefined): string | null {
  const target = c?.build_target ?? svc.build_target;
  if (!target) return null;
  return target === "development" ? "dev" : "prod";
}

export function imageTag(image: string | null | undefined): string {
  if (!image) return "";
  // A reference pinned to a digest (a swarm task's, from a registry): the tag before it.
  image = image.split("@")[0];
  const slash = image.lastIndexOf("/");
  const colon = image.lastIndexOf(":");
  return colon > slash ? image.slice(colon + 1) : "latest";
}

/** What an edge says about the dependency it draws. */
export const CONDITION_LABEL: Record<Condition, string> = {
  service_started: "started",
  service_healthy: "healthy",
  service_completed_successfully: "completed",
};

export const LAYERS = ["frontend", "processing", "data"] as const;

/** The stack's containers by container name (a service has one per replica). */
export type Containers = Record<string, ContainerStatus>;

/** A service's containers, lowest replica number first. */
export function replicasOf(containers: Containers, service: string): ContainerStatus[] {
  return Object.values(containers)
    .filter((c) => c.service === service)
    .sort((a, b) => a.number - b.number);
}

/** Worst first: the node of a replicated service shows its worst replica. */
const SEVERITY: NodeStatus[] = ["failed", "exited", "unhealthy", "outside", "starting", "progress", "held", "planned", "running", "healthy", "completed"];

/** What a service's node shows: its worst replica's state (so a failing one is never hidden),
 * and how many of the replicas asked for are up when there are several. */
export function serviceStatus(svc: ServiceNode, containers: Containers, phase?: Phase, known: Known = {}): NodeInfo & { container?: ContainerStatus } {
  const list = replicasOf(containers, svc.name);
  const infos = list.map((c) => ({ ...nodeStatus(svc, c, phase, known), container: c }));
  const worst = infos.sort((a, b) => SEVERITY.indexOf(a.status) - SEVERITY.indexOf(b.status))[0] ?? nodeStatus(svc, undefined, phase, known);
  if (svc.replicas <= 1 && list.length <= 1) return worst;
  const up = infos.filter((i) => i.status === "healthy" || i.status === "running" || i.status === "completed").length;
  return { ...worst, label: `${worst.label} · ${up}/${svc.replicas} up` };
}

/** Applies a live state event for `stack` (events of other stacks are ignored). */
export function applyState(current: Containers, e: StateEvent, stack: string): Containers {
  if (e.stack !== stack) return current;
  switch (e.kind) {
    case "snapshot":
      return { ...e.containers } as Containers;
    case "container": {
      const next = { ...current };
      if (e.status) next[e.container] = e.status;
      else delete next[e.container];
      return next;
    }
    case "engineDown":
      return current;
  }
}

/** A swarm stack's tasks as the diagram draws containers: one per task meant to run (for a
 * service with none, such as a one-shot that completed, its newest), named `<service>.<slot>@<node>`. A task on a node that is down
 * is dead (red) whatever the manager last heard from it, so that a lost node turns its tasks
 * red while their replacements start elsewhere. */
export function tasksAsContainers(state: SwarmState): Containers {
  const down = new Set(state.nodes.filter((n) => n.state !== "ready").map((n) => n.hostname));
  const meant = new Set(state.tasks.filter((t) => t.desired === "running").map((t) => t.service));
  const out: Containers = {};
  // The tasks meant to run; a service with none (a one-shot that completed): its last one.
  const shown = state.tasks.filter((t, i) => t.desired === "running" || (!meant.has(t.service) && state.tasks.findIndex((u) => u.service === t.service) === i));
  for (const t of shown) {
    const lost = t.node !== null && down.has(t.node);
    const name = t.name;
    const state: ContainerState = lost
      ? "dead"
      : t.state === "running"
        ? "running"
        : ["complete", "failed", "rejected", "shutdown", "orphaned"].includes(t.state)
          ? "exited"
          : "created";
    out[name] = {
      name,
      id: t.id,
      service: t.service,
      number: t.slot ?? 0,
      state,
      health: null,
      image: t.image ?? "",
      image_id: "",
      build_target: null,
      env: null,
      ports: [],
      restart_count: 0,
      exit_code: t.state === "complete" ? 0 : null,
      oom_killed: false,
      started_at: null,
      stopped_outside: false,
    };
  }
  return out;
}

/** The last samples of a service's resource use, newest last (bounded). */
export interface UsageHistory {
  cpu: number[];
  memory: number[];
  /** The core's verdict on the newest sample: at or near the memory limit. */
  nearLimit: boolean;
}

export const HISTORY = 60;

export function addSample(h: UsageHistory | undefined, cpu: number, memory: number, nearLimit: boolean): UsageHistory {
  const keep = (xs: number[], x: number) => [...xs.slice(-(HISTORY - 1)), x];
  return { cpu: keep(h?.cpu ?? [], cpu), memory: keep(h?.memory ?? [], memory), nearLimit };
}

/** Use against a limit, 0..1 (no limit: against nothing, so 0). */
export function fraction(value: number | undefined, limit: number | null | undefined): number {
  if (value === undefined || !limit) return 0;
  return Math.min(1, value / limit);
}


