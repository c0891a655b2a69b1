import { act, cleanup, fireEvent, render, renderHook, screen, waitFor } from "@testing-library/react";
import axe from "axe-core";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { activity } from "./activity";
import { App, healthLine } from "./App";
import { listenFromNow, startBoot } from "./boot";
import { useStackStore } from "./store";
import type { ContainerStatus } from "./bindings/ContainerStatus";
import type { Layer } from "./bindings/Layer";
import type { ServiceNode } from "./bindings/ServiceNode";
import type { StackView } from "./bindings/StackView";
import { FakeBackend } from "./fake";
import { applyState, envBadge, imageTag, nodeStatus, replicasOf, serviceStatus } from "./state";

beforeAll(() => {
  // React Flow measures its container; jsdom has no layout.
  // The diagram's pane is 1000 x 700.
  globalThis.ResizeObserver = class {
    constructor(private readonly callback: ResizeObserverCallback) {}
    observe(target: Element) {
      this.callback([{ target, contentRect: { width: 1000, height: 700 } } as unknown as ResizeObserverEntry], this as unknown as ResizeObserver);
    }
    unobserve() {}
    disconnect() {}
  } as unknown as typeof ResizeObserver;
  // Edge labels measure their text; jsdom has no SVG layout.
  Object.defineProperty(SVGElement.prototype, "getBBox", { configurable: true, value: () => ({ x: 0, y: 0, width: 40, height: 12 }) });
  Object.defineProperty(HTMLElement.prototype, "offsetWidth", { configurable: true, value: 1000 });
  Object.defineProperty(HTMLElement.prototype, "offsetHeight", { configurable: true, value: 700 });
});
afterEach(cleanup);

const svc = (name: string, layer: Layer, extra: Partial<ServiceNode> = {}): ServiceNode => ({
  name,
  layer,
  image: `lab/${name}:dev`,
  build_target: "development",
  ports: [],
  depends_on: [],
  has_healthcheck: true,
  one_shot: false,
  replicas: 1,
  memory_limit: 536870912,
  cpu_limit: 0.5,
  ...extra,
});

const services = [
  svc("db", "data"),
  svc("migrate", "processing", { one_shot: true, has_healthcheck: false, depends_on: [{ target: "db", condition: "service_healthy" }] }),
  svc("api", "frontend", {
    ports: ["9001:9001"],
    depends_on: [
      { target: "db", condition: "service_healthy" },
      { target: "migrate", condition: "service_completed_successfully" },
    ],
  }),
];

const view: StackView = { stack: "lab", env: "dev", project: "lab", services, diagnostics: [], invalid: false };

const container = (extra: Partial<ContainerStatus> = {}): ContainerStatus => ({
  name: "x",
  id: "c0ffee",
  service: "x",
  number: 1,
  state: "running",
  health: "healthy",
  image: "lab/x:dev",
  image_id: "sha256:1",
  build_target: "development",
  env: "dev",
  ports: [],
  restart_count: 0,
  exit_code: null,
  oom_killed: false,
  started_at: null,
  stopped_outside: false,
  ...extra,
});

/** A snapshot's containers, from the first replica of each service. */
const snap = (byService: Record<string, ContainerStatus>): Record<string, ContainerStatus> =>
  Object.fromEntries(Object.entries(byService).map(([service, c]) => [`lab-${service}-1`, { ...c, service, name: `lab-${service}-1` }]));

// Node runs the tests; the app itself never sees `process`.
declare const process: { cwd(): string };

function fake() {
  return new FakeBackend(
    { stacks: [{ name: "lab", description: "", envs: ["dev", "prod"], default_env: "dev", is_default: true, invalid: null, own: false }], open_stack: "lab", open_env: "dev", theme: "system" },
    {
      "lab/dev": { view, notifications: true },
      "lab/prod": {
        view: {
          ...view,
          env: "prod",
          invalid: true,
          services: [],
          diagnostics: [{ severity: "error", file: "/lab/docker-compose.yaml", line: 53, key: "services.db.environment.PW", message: "required variable PW is missing a value" }],
        },
        notifications: true,
      },
    },
  );
}

describe("node status", () => {
  it("follows the engine's state and health", () => {
    const s = services[0];
    expect(nodeStatus(s, undefined).status).toBe("planned");
    expect(nodeStatus(s, container()).status).toBe("healthy");
    expect(nodeStatus(s, container({ health: "unhealthy" })).status).toBe("unhealthy");
    expect(nodeStatus(s, container({ health: "starting" })).status).toBe("starting");
    expect(nodeStatus(s, container({ health: null })).status).toBe("running");
    expect(nodeStatus(s, container({ state: "exited", exit_code: 137 })).label).toBe("exited (137)");
    expect(nodeStatus(s, container({ state: "exited", oom_killed: true })).label).toBe("killed: out of memory");
    expect(nodeStatus(services[1], container({ state: "exited", exit_code: 0 })).status).toBe("completed");
    expect(nodeStatus(s, container(), "waiting_health")).toEqual({ status: "progress", label: "waiting for health" });
    expect(nodeStatus(s, container(), "failed").status).toBe("failed");
  });

  it("a replicated service shows its worst replica and how many are up", () => {
    const worker = svc("worker", "processing", { replicas: 3 });
    const replica = (n: number, extra: Partial<ContainerStatus> = {}) => container({ service: "worker", name: `lab-worker-${n}`, number: n, ...extra });
    const all = { "lab-worker-1": replica(1), "lab-worker-2": replica(2, { state: "exited", exit_code: 1 }), "lab-worker-3": replica(3) };
    expect(replicasOf(all, "worker").map((c) => c.number)).toEqual([1, 2, 3]);
    const info = serviceStatus(worker, all);
    expect(info.status).toBe("exited");
    expect(info.label).toBe("exited (1) · 2/3 up");
    expect(info.container?.name).toBe("lab-worker-2");
    // Scaled down to one of three: the count says so even when that one is healthy.
    expect(serviceStatus(worker, { "lab-worker-1": replica(1) }).label).toBe("healthy · 1/3 up");
    // One replica: the plain state, as before.
    expect(serviceStatus(services[0], snap({ db: container() })).label).toBe("healthy");
  });

  it("badges and tags", () => {
    expect(envBadge(services[0], container({ build_target: "runner" }))).toBe("prod");
    expect(envBadge(services[0], undefined)).toBe("dev");
    expect(imageTag("registry:5000/lab/api:v1.2")).toBe("v1.2");
    expect(imageTag("lab/api")).toBe("latest");
    expect(imageTag("registry:5000/lab/api:v1.2@sha256:0a41")).toBe("v1.2");
  });

  it("ready by our probe before Docker's check; stopped by our operation, not crashed", () => {
    const started = "2026-11-30T08:00:00Z";
    const c = container({ name: "lab-db-1", health: "starting", started_at: started });
    expect(nodeStatus(services[0], c).status).toBe("starting");
    expect(nodeStatus(services[0], c, undefined, { probed: { "lab-db-1": started } })).toEqual({ status: "healthy", label: "ready (Docker's check: starting)" });
    // Restarted since it was probed: not ready until probed again.
    expect(nodeStatus(services[0], { ...c, started_at: "2026-11-30T08:05:00Z" }, undefined, { probed: { "lab-db-1": started } }).status).toBe("starting");
    const stopped = container({ state: "exited", exit_code: 0 });
    expect(nodeStatus(services[0], stopped).status).toBe("exited");
    expect(nodeStatus(services[0], stopped, undefined, { operation: "the backup" })).toEqual({ status: "held", label: "stopped for the backup" });
    // What fails in the operation is its own phase: failed, in the crash colour.
    expect(nodeStatus(services[0], { ...stopped, exit_code: 1 }, "failed", { operation: "the backup" }).status).toBe("failed");
    expect(nodeStatus(services[0], { ...stopped, exit_code: 137, stopped_outside: true })).toEqual({ status: "outside", label: "stopped from outside" });
  });

  it("health check runs read with their time and verdict", () => {
    const time = new Date("2026-11-30T08:12:31Z").toLocaleTimeString();
    expect(healthLine({ container: null, started: "2026-11-30T08:12:31Z", exit_code: 0, output: "" })).toBe(`${time} passed`);
    expect(healthLine({ container: "lab-api-2", started: "2026-11-30T08:12:31Z", exit_code: 1, output: "refused" })).toBe(`lab-api-2 ${time} failed (exit 1): refused`);
    expect(healthLine({ container: null, started: null, exit_code: null, output: "" })).toBe("--:--:-- did not finish");
  });

  it("applies snapshots and container changes of its own stack only", () => {
    let c = applyState({}, { kind: "snapshot", stack: "lab", containers: snap({ db: container() }) }, "lab");
    expect(Object.keys(c)).toEqual(["lab-db-1"]);
    c = applyState(c, { kind: "container", stack: "lab", service: "db", container: "lab-db-1", id: "c0ffee", number: 1, action: "die", time_ns: null, exit_code: null, status: container({ service: "db", name: "lab-db-1", state: "exited", exit_code: 1 }) }, "lab");
    expect(c["lab-db-1"].state).toBe("exited");
    c = applyState(c, { kind: "container", stack: "other", service: "db", container: "lab-db-1", id: "c0ffee", number: 1, action: "destroy", time_ns: null, exit_code: null, status: null }, "lab");
    expect(c["lab-db-1"]).toBeDefined();
    c = applyState(c, { kind: "container", stack: "lab", service: "db", container: "lab-db-1", id: "c0ffee", number: 1, action: "destroy", time_ns: null, exit_code: null, status: null }, "lab");
    expect(c["lab-db-1"]).toBeUndefined();
  });
});

describe("the window", () => {
  it("draws the planned stack greyed, then colours nodes from live state", async () => {
    const backend = fake();
    render(<App backend={backend} />);
    const db = await screen.findByTestId("node-db");
    expect(db.dataset.status).toBe("planned");
    expect(screen.getByTestId("diagram").className).toContain("diagram-planned");
    act(() => backend.push({ kind: "snapshot", stack: "lab", containers: snap({ db: container(), api: container({ health: "starting" }) }) }));
    await waitFor(() => expect(screen.getByTestId("node-db").dataset.status).toBe("healthy"));
    expect(screen.getByTestId("node-api").dataset.status).toBe("starting");
    act(() => backend.push({ kind: "container", stack: "lab", service: "db", container: "lab-db-1", id: "c0ffee", number: 1, action: "die", time_ns: null, exit_code: null, status: container({ service: "db", name: "lab-db-1", state: "exited", exit_code: 0 }) }));
    await waitFor(() => expect(screen.getByTestId("node-db").dataset.status).toBe("exited"));
  });

  it("a swarm stack: its tasks colour the nodes, its swarm nodes are shown, a lost node turns its tasks red", async () => {
    const backend = fake();
    render(<App backend={backend} />);
    await screen.findByTestId("node-api");
    const node = (hostname: string, state = "ready") => ({ id: hostname, hostname, addr: "10.0.0.1", manager: hostname === "n1", leader: hostname === "n1", state, availability: "active", engine_version: "20.10.24" });
    const task = (service: string, slot: number, on: string, state = "running", desired = "running") => ({
      id: `${service}-${slot}-${on}`,
      name: `${service}.${slot}@${on}#${service}`,
      service,
      slot,
      node: on,
      state,
      desired,
      message: null,
      error: null,
      image: `lab/${service}:prod`,
      container: "c",
      current: true,
    });
    const tasks = [task("db", 1, "n1"), task("migrate", 1, "n1", "complete", "shutdown"), task("api", 1, "n2"), task("api", 2, "n3")];
    act(() => backend.swarm({ stack: "lab", state: { nodes: [node("n1"), node("n2"), node("n3")], tasks, error: null } }));
    await waitFor(() => expect(screen.getByTestId("node-api").dataset.status).toBe("running"));
    expect(screen.getByTestId("node-db").dataset.status).toBe("running");
    expect(screen.getByTestId("node-migrate").dataset.status).toBe("completed");
    expect(screen.getByTestId("swarm-node-n2").dataset.state).toBe("ready");
    expect(screen.getByTestId("swarm-node-n2").textContent).toContain("api.1");
    expect(screen.getByTestId("swarm-node-n1").textContent).toContain("leader");
    // A sample of a task (taken on its node) moves that task's gauges, and no other's.
    act(() => backend.usage({ stack: "lab", service: "api", container: "api.2@n3#api", cpu_percent: 25, memory_bytes: 128 * 1048576, near_memory_limit: false }));
    const onN3 = screen.getByTestId("swarm-node-n3").querySelector("[data-testid='gauge-cpu']") as HTMLElement;
    expect(onN3.dataset.value).toBe("0.50");
    expect(screen.getByTestId("swarm-node-n2").querySelector("[data-testid='gauge-cpu']")).toBeNull();
    // n3 lost: its task of the API is red, and its replacement starts on n2.
    // The swarm no longer means the lost task to run once it is replaced: still drawn, as lost.
    const moved = [...tasks.filter((t) => t.node !== "n3"), task("api", 2, "n3", "running", "shutdown"), task("api", 2, "n2", "starting")];
    act(() => backend.swarm({ stack: "lab", state: { nodes: [node("n1"), node("n2"), node("n3", "down")], tasks: moved, error: null } }));
    await waitFor(() => expect(screen.getByTestId("swarm-node-n3").dataset.state).toBe("down"));
    expect(screen.getByTestId("swarm-node-n3").querySelector("[data-state='lost']")?.textContent).toContain("api.2");
    expect(screen.getByTestId("node-api").dataset.status).toBe("starting");
    expect(screen.getByTestId("swarm-node-n2").textContent).toContain("api.2 starting");
    // Another stack's swarm is not this one's.
    act(() => backend.swarm({ stack: "other", state: { nodes: [], tasks: [], error: null } }));
    expect(screen.getByTestId("swarm-nodes").textContent).toContain("n3");
  });

  it("Up shows per-node progress and the failure report from the core", async () => {
    const backend = fake();
    backend.upEvents = [
      { event: "service", service: "db", phase: "waiting_health", detail: null, elapsed_ms: 100 },
      { event: "service", service: "api", phase: "failed", detail: "its health check did not pass within 12s", elapsed_ms: 900 },
      { event: "failure", service: "api", reason: "its health check did not pass within 12s", health_output: ["connection refused"], logs: ["api: starting"] },
    ];
    backend.upError = { code: "failed", message: "1 service(s) failed", diagnostics: [] };
    render(<App backend={backend} />);
    await screen.findByTestId("node-db");
    fireEvent.click(screen.getByTestId("up"));
    await waitFor(() => expect(backend.calls).toContain("up lab dev"));
    const report = await screen.findByTestId("failures");
    expect(report.textContent).toContain("its health check did not pass within 12s");
    expect(report.textContent).toContain("connection refused");
    expect(screen.getByTestId("node-api").dataset.status).toBe("failed");
    expect(screen.getByTestId("progress-log").textContent).toContain("db  waiting for health");
    expect(screen.queryByTestId("error")).toBeNull();
  });

  it("the side panel drives the selected service", async () => {
    const backend = fake();
    render(<App backend={backend} />);
    await screen.findByTestId("node-api");
    act(() => backend.push({ kind: "snapshot", stack: "lab", containers: snap({ api: container(), db: container({ state: "exited", exit_code: 0 }) }) }));
    await waitFor(() => expect(screen.getByTestId("node-api").dataset.status).toBe("healthy"));
    fireEvent.click(screen.getByTestId("node-api"));
    const panel = await screen.findByTestId("panel");
    expect(panel.textContent).toContain("db (healthy)");
    expect(panel.textContent).toContain("512 MiB");
    // Only what applies: a running service can be stopped or restarted, not started.
    const enabled = (id: string) => !(screen.getByTestId(id) as HTMLButtonElement).disabled;
    expect([enabled("action-start"), enabled("action-stop"), enabled("action-restart")]).toEqual([false, true, true]);
    fireEvent.click(screen.getByTestId("node-db"));
    await waitFor(() => expect(enabled("action-start")).toBe(true));
    expect(enabled("action-stop")).toBe(false);
    expect(screen.getByTestId("no-usage").textContent).toContain("Not running");
    fireEvent.click(screen.getByTestId("node-api"));
    await waitFor(() => expect(enabled("action-restart")).toBe(true));
    // Inspect: a secret's value is masked until asked for.
    const details = screen.getByTestId("inspect-toggle").parentElement as HTMLDetailsElement;
    details.open = true;
    fireEvent(details, new Event("toggle"));
    const pw = await screen.findByTestId("env-POSTGRES_PASSWORD");
    expect(pw.textContent).not.toContain("s3cret-value");
    expect(screen.getByTestId("env-LOG_LEVEL").textContent).toContain("debug");
    fireEvent.click(screen.getByLabelText("Show POSTGRES_PASSWORD"));
    await waitFor(() => expect(screen.getByTestId("env-POSTGRES_PASSWORD").textContent).toContain("s3cret-value"));
    expect(backend.calls).toContain("reveal lab-api-1 POSTGRES_PASSWORD");
    fireEvent.click(screen.getByTestId("action-restart"));
    await waitFor(() => expect(backend.calls).toContain("restart api"));
    fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(screen.queryByTestId("panel")).toBeNull());
  });

  it("gauges show resource use against limits, and near the memory limit the node is marked", async () => {
    const backend = fake();
    render(<App backend={backend} />);
    await screen.findByTestId("node-api");
    act(() => backend.push({ kind: "snapshot", stack: "lab", containers: snap({ api: container(), db: container() }) }));
    act(() => {
      backend.usage({ stack: "lab", service: "api", container: "lab-api-1", cpu_percent: 25, memory_bytes: 128 * 1048576, near_memory_limit: false });
      backend.usage({ stack: "lab", service: "db", container: "lab-db-1", cpu_percent: 5, memory_bytes: 500 * 1048576, near_memory_limit: true });
    });
    const api = await screen.findByTestId("node-api");
    await waitFor(() => expect(api.querySelector("[data-testid='gauge-cpu']")?.getAttribute("data-value")).toBe("0.50"), { timeout: 4000 });
    expect(api.querySelector("[data-testid='gauge-mem']")?.getAttribute("data-value")).toBe("0.25");
    expect(api.querySelector(".gauge-warn")).toBeNull();
    expect(screen.getByTestId("node-db").querySelector(".gauge-warn")).not.toBeNull();
    fireEvent.click(api);
    expect((await screen.findByTestId("chart-memory")).textContent).toContain("128 MiB of 512 MiB");
  });

  it("a resource sample redraws only its own node's gauges: not the window, the diagram or a node", async () => {
    const backend = fake();
    render(<App backend={backend} />);
    await screen.findByTestId("node-api");
    act(() => backend.push({ kind: "snapshot", stack: "lab", containers: snap({ api: container(), db: container() }) }));
    const sample = (cpu: number) => backend.usage({ stack: "lab", service: "api", container: "lab-api-1", cpu_percent: cpu, memory_bytes: 128 * 1048576, near_memory_limit: false });
    act(() => sample(10));
    const api = await screen.findByTestId("node-api");
    await waitFor(() => expect(api.querySelector("[data-testid='gauge-cpu']")?.getAttribute("data-value")).toBe("0.20"));
    const before = { ...activity.renders };
    act(() => sample(40));
    expect(api.querySelector("[data-testid='gauge-cpu']")?.getAttribute("data-value")).toBe("0.80");
    const drawn = (c: string) => (activity.renders[c] ?? 0) - (before[c] ?? 0);
    expect(["App", "Diagram", "ServiceCard", "Gauges"].map(drawn)).toEqual([0, 0, 0, 1]);
    // A sample of another stack is not drawn at all.
    act(() => backend.usage({ stack: "other", service: "api", container: "lab-api-1", cpu_percent: 5, memory_bytes: 1, near_memory_limit: false }));
    expect(drawn("Gauges")).toBe(1);
  });

  it("tells the app what the window shows: visible or hidden, and the service in the panel", async () => {
    const backend = fake();
    render(<App backend={backend} />);
    fireEvent.click(await screen.findByTestId("node-api"));
    await waitFor(() => expect(backend.calls).toContain("shows visible api"));
    Object.defineProperty(document, "visibilityState", { configurable: true, value: "hidden" });
    act(() => void document.dispatchEvent(new Event("visibilitychange")));
    await waitFor(() => expect(backend.calls.at(-1)).toBe("shows hidden api"));
    Object.defineProperty(document, "visibilityState", { configurable: true, value: "visible" });
    act(() => void document.dispatchEvent(new Event("visibilitychange")));
    fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(backend.calls.at(-1)).toBe("shows visible -"));
  });

  it("a clicked notification opens the panel of its service; notifications can be switched off", async () => {
    const backend = fake();
    render(<App backend={backend} />);
    await screen.findByTestId("node-db");
    act(() => backend.focus({ stack: "lab", service: "db" }));
    expect((await screen.findByTestId("panel")).textContent).toContain("db");
    fireEvent.click(screen.getByTestId("notifications"));
    await waitFor(() => expect(backend.calls).toContain("notifications lab false"));
  });

  it("stays useful when things are wrong", async () => {
    const backend = fake();
    render(<App backend={backend} />);
    await screen.findByTestId("node-db");
    act(() => backend.push({ kind: "engineDown", stack: "lab", reason: "connection refused" }));
    expect((await screen.findByTestId("engine-down")).textContent).toContain("Start Docker");
    expect(screen.getByTestId("engine-down").textContent).toContain("clears by itself");
    expect((screen.getByTestId("up") as HTMLButtonElement).disabled).toBe(true);
    act(() => backend.push({ kind: "snapshot", stack: "lab", containers: {} }));
    await waitFor(() => expect(screen.queryByTestId("engine-down")).toBeNull());
    fireEvent.change(screen.getByLabelText("environment"), { target: { value: "prod" } });
    const invalid = await screen.findByTestId("invalid");
    expect(invalid.textContent).toContain("/lab/docker-compose.yaml:53");
    expect(invalid.textContent).toContain("required variable PW is missing a value");
  });

  it("switches to the other environment in one click, with the steps in the log", async () => {
    const backend = fake();
    backend.upEvents = [
      { event: "step", message: "checking prod before anything changes" },
      { event: "service", service: "api", phase: "stopping", detail: null, elapsed_ms: 10 },
    ];
    render(<App backend={backend} />);
    await screen.findByTestId("node-db");
    fireEvent.click(screen.getByTestId("switch"));
    await waitFor(() => expect(backend.calls).toContain("switch lab prod backup"));
    expect((await screen.findByTestId("notice")).textContent).toContain("Switched from dev to prod");
    expect(screen.getByTestId("notice").textContent).toContain("Rebuilt without cache (target not proven): api");
    expect(screen.getByTestId("progress-log").textContent).toContain("checking prod before anything changes");
    await waitFor(() => expect(backend.calls).toContain("open lab prod"));
  });

  it("a switch that was rolled back says why", async () => {
    const backend = fake();
    backend.switchError = { code: "rolled_back", message: "prod did not come up, so the stack was rolled back to dev", diagnostics: [] };
    render(<App backend={backend} />);
    await screen.findByTestId("node-db");
    fireEvent.click(screen.getByTestId("switch"));
    expect((await screen.findByTestId("error")).textContent).toContain("rolled back to dev");
    expect(backend.calls).not.toContain("open lab prod");
  });

  it("a switch refused for the files of the other environment names each file, line and key", async () => {
    const backend = fake();
    backend.switchError = {
      code: "invalid",
      message: "1 error(s) in the compose files: nothing was changed. Fix what is named and try again.",
      diagnostics: [{ severity: "error", file: "/lab/prod-extra.yaml", line: 4, key: "services.sirius-api.environment", message: "PROD_ONLY_SECRET: set PROD_ONLY_SECRET in .env" }],
    };
    render(<App backend={backend} />);
    await screen.findByTestId("node-db");
    fireEvent.click(screen.getByTestId("switch"));
    const error = await screen.findByTestId("error");
    expect(error.textContent).toContain("nothing was changed");
    expect(error.textContent).toContain("/lab/prod-extra.yaml:4: services.sirius-api.environment: PROD_ONLY_SECRET");
  });

  it("flags a node that does not run what its environment asks for, with its fix", async () => {
    const backend = fake();
    backend.driftResult = [
      {
        service: "api",
        verdict: "drift",
        summary: "its image was built from target development, the environment asks for runner",
        findings: [
          { check: "image", ok: true, message: "runs lab/api:dev" },
          { check: "target", ok: false, message: "its image was built from target development, the environment asks for runner" },
        ],
        fix: "rebuild",
      },
      { service: "db", verdict: "match", summary: "", findings: [{ check: "image", ok: true, message: "" }], fix: null },
    ];
    render(<App backend={backend} />);
    act(() => backend.push({ kind: "snapshot", stack: "lab", containers: snap({ api: container(), db: container() }) }));
    await waitFor(() => expect(screen.getByTestId("node-api").dataset.drift).toBe("drift"), { timeout: 3000 });
    expect(screen.getByTestId("node-db").dataset.drift).toBe("match");
    expect(screen.getByTestId("drift-api").getAttribute("title")).toContain("built from target development");
    fireEvent.click(screen.getByTestId("node-api"));
    const panel = await screen.findByTestId("panel-drift");
    expect(panel.textContent).toContain("NO");
    expect(panel.textContent).toContain("target: its image was built from target development");
    fireEvent.click(screen.getByTestId("action-repair"));
    await waitFor(() => expect(backend.calls).toContain("repair api"));
    expect((await screen.findByTestId("notice")).textContent).toContain("api rebuilt and recreated");
  });

  it("the switch's options: skip the safety backup, rebuild without cache, build nothing", async () => {
    const backend = fake();
    render(<App backend={backend} />);
    await screen.findByTestId("node-db");
    expect((screen.getByTestId("switch-backup") as HTMLInputElement).checked).toBe(true);
    fireEvent.click(screen.getByTestId("switch-backup"));
    fireEvent.click(screen.getByTestId("switch-no-cache"));
    // Building nothing and rebuilding everything exclude each other.
    fireEvent.click(screen.getByTestId("switch-no-build"));
    expect((screen.getByTestId("switch-no-cache") as HTMLInputElement).checked).toBe(false);
    fireEvent.click(screen.getByTestId("switch-no-cache"));
    expect((screen.getByTestId("switch-no-build") as HTMLInputElement).checked).toBe(false);
    fireEvent.click(screen.getByTestId("switch"));
    await waitFor(() => expect(backend.calls).toContain("switch lab prod no-cache"));
  });

  it("the switch's menu says what the switch keeps running and what it recreates", async () => {
    const backend = fake();
    render(<App backend={backend} />);
    await screen.findByTestId("node-db");
    const menu = document.querySelector("details.switch-options") as HTMLDetailsElement;
    menu.open = true;
    fireEvent(menu, new Event("toggle"));
    const plan = await screen.findByTestId("switch-plan");
    expect(plan.textContent).toContain("Kept running");
    expect(plan.textContent).toContain("postgres");
    expect(plan.textContent).toContain("api (its configuration differs)");
    expect(backend.calls).toContain("switch-plan prod");
    fireEvent.click(screen.getByTestId("switch-full-restart"));
    expect((await screen.findByTestId("switch-plan")).textContent).toContain("Every service is stopped");
  });

  it("building nothing reaches the core as the switch's option", async () => {
    const backend = fake();
    render(<App backend={backend} />);
    await screen.findByTestId("node-db");
    fireEvent.click(screen.getByTestId("switch-no-build"));
    fireEvent.click(screen.getByTestId("switch"));
    await waitFor(() => expect(backend.calls).toContain("switch lab prod backup no-build"));
  });
});

describe("a stack that follows its files", () => {
  it("redraws when its files change, shows their errors with a way to the file, and clears when they are fixed", async () => {
    const b = fake();
    render(<App backend={b} />);
    await screen.findByText("api");
    // A service added in the file: drawn without a click.
    act(() => b.reload({ stack: "lab", env: "dev", view: { ...view, services: [...services, svc("cache", "data")] }, error: null }));
    expect(await screen.findByText("cache")).toBeTruthy();
    // The file broken: its error, file:line, and Open in editor.
    const broken = { ...view, invalid: true, services: [], diagnostics: [{ severity: "error" as const, file: "/lab/docker-compose.yaml", line: 12, key: "services.api", message: "mapping values are not allowed here" }] };
    act(() => b.reload({ stack: "lab", env: "dev", view: broken, error: null }));
    const diag = await screen.findByTestId("diagnostic");
    expect(diag.textContent).toContain("/lab/docker-compose.yaml:12");
    fireEvent.click(screen.getByTestId("open-file"));
    await waitFor(() => expect(b.calls).toContain("open file /lab/docker-compose.yaml:12"));
    // Reload asks the app again.
    fireEvent.click(screen.getByTestId("reload"));
    await waitFor(() => expect(b.calls.filter((c) => c === "open lab dev").length).toBe(2));
    // Fixed: the errors go, the diagram is back.
    act(() => b.reload({ stack: "lab", env: "dev", view, error: null }));
    await waitFor(() => expect(screen.queryByTestId("invalid")).toBeNull());
    expect(await screen.findByText("api")).toBeTruthy();
    // Another stack's reload changes nothing here.
    act(() => b.reload({ stack: "other", env: "dev", view: broken, error: null }));
    expect(screen.queryByTestId("invalid")).toBeNull();
  });
});

// Retried once: one run in some thirty here failed fast (about 200 ms) in a full run of the file,
// and it did not fail again in 24 runs to catch its message. The retry is reported as such.
describe("connectivity on the edges", { retry: 1 }, () => {
  it("checks every edge after Up, draws each result on its edge, and checks one service's again from its panel", async () => {
    const b = fake();
    b.connectivity = [
      { from: "api", to: "db", reach: { kind: "reachable", port: 5432 }, via: "exec" },
      { from: "api", to: "migrate", reach: { kind: "unchecked", why: "migrate is not running" }, via: null },
      { from: "migrate", to: "db", reach: { kind: "unchecked", why: "migrate is not running" }, via: null },
    ];
    render(<App backend={b} />);
    await screen.findByTestId("node-db");
    fireEvent.click(screen.getByTestId("up"));
    await waitFor(() => expect(b.calls).toContain("connectivity all"));
    await waitFor(() => expect(screen.getByTestId("edge-label-api-db").getAttribute("data-reach")).toBe("reachable"));
    expect(screen.getByTestId("edge-label-api-db").querySelector("title")?.textContent).toContain("reachable on port 5432");
    act(() => b.push({ kind: "snapshot", stack: "lab", containers: snap({ api: container(), db: container() }) }));
    fireEvent.click(screen.getByTestId("node-api"));
    expect((await screen.findByTestId("connection-db")).textContent).toContain("reachable on port 5432");
    b.connectivity = [{ from: "api", to: "db", reach: { kind: "noName" }, via: "exec" }];
    fireEvent.click(screen.getByTestId("check-connections"));
    await waitFor(() => expect(screen.getByTestId("connection-db").getAttribute("data-reach")).toBe("noName"));
    expect(b.calls).toContain("connectivity api");
    expect(screen.getByTestId("edge-label-api-db").getAttribute("data-reach")).toBe("noName");
    // Down: the checks are stale, none is drawn.
    fireEvent.click(screen.getByTestId("down"));
    await waitFor(() => expect(screen.getByTestId("edge-label-api-db").getAttribute("data-reach")).toBeNull());
  });
});

describe("adding, renaming and removing stacks", () => {
  it("adds a stack from the folder chosen, with each environment's files, and opens it", async () => {
    const b = fake();
    b.folder = { folder: "/home/u/shop", name: "shop", files: ["compose.yaml", "compose.dev.yaml", "compose.prod.yaml"], envs: { dev: ["compose.yaml", "compose.dev.yaml"], prod: ["compose.yaml", "compose.prod.yaml"] } };
    render(<App backend={b} />);
    await screen.findByTestId("node-db");
    fireEvent.click(screen.getByTestId("add-stack-open"));
    const form = await screen.findByTestId("add-stack");
    expect(form.textContent).toContain("/home/u/shop");
    // prod without its override: the base file only.
    fireEvent.click(screen.getByLabelText("prod: compose.prod.yaml"));
    b.addError = { code: "invalid", message: "the dev environment does not load", diagnostics: [{ severity: "error", file: "/home/u/shop/compose.dev.yaml", line: 3, key: "services", message: "bad" }] };
    fireEvent.click(screen.getByTestId("add-confirm"));
    expect((await screen.findByTestId("add-error")).textContent).toContain("/home/u/shop/compose.dev.yaml:3");
    b.addError = null;
    fireEvent.click(screen.getByTestId("add-confirm"));
    await waitFor(() => expect(b.calls).toContain('add shop {"dev":["compose.yaml","compose.dev.yaml"],"prod":["compose.yaml"]} dev'));
    await waitFor(() => expect(b.calls).toContain("open shop dev"));
    expect(screen.queryByTestId("add-stack")).toBeNull();
    expect((screen.getByLabelText("stack") as HTMLSelectElement).value).toBe("shop");
  });

  it("renames and removes only the user's own stacks", async () => {
    const b = fake();
    b.stacks = { ...b.stacks, stacks: [...b.stacks.stacks, { name: "mine", description: "", envs: ["dev"], default_env: "dev", is_default: false, invalid: null, own: true }], open_stack: "mine" };
    b.views["mine/dev"] = { view: { ...view, stack: "mine" }, notifications: true };
    render(<App backend={b} />);
    await screen.findByTestId("node-db");
    fireEvent.click(screen.getByText("Rename…"));
    fireEvent.change(screen.getByLabelText("new name"), { target: { value: "ours" } });
    fireEvent.click(screen.getByText("Rename"));
    await waitFor(() => expect(b.calls).toContain("open ours dev"));
    fireEvent.click(screen.getByText("Remove…"));
    fireEvent.click(screen.getByText("Remove"));
    await waitFor(() => expect(b.calls).toContain("remove ours"));
    expect((await screen.findByTestId("stack-menu-message")).textContent).toContain("its compose files are where they were");
    await waitFor(() => expect((screen.getByLabelText("stack") as HTMLSelectElement).value).toBe("lab"));
    // A built-in stack offers neither.
    expect(screen.queryByText("Rename…")).toBeNull();
    expect(screen.queryByText("Remove…")).toBeNull();
  });
});

describe("the engine picker", () => {
  const open = (b: FakeBackend) => b.calls.filter((c) => c === "open lab dev").length;

  it("shows the engine the stack is watched on, and asks no engine until its menu opens", async () => {
    const b = fake();
    b.stackEngines = { lab: "far" };
    render(<App backend={b} />);
    await screen.findByTestId("node-db");
    await waitFor(() => expect(screen.getByTestId("engine-picker").textContent).toBe("far"));
    expect(screen.getByTestId("engine-picker").getAttribute("aria-expanded")).toBe("false");
    expect(screen.queryByTestId("engine-menu")).toBeNull();
    expect(b.calls).not.toContain("engines");
  });

  it("asks the engines when its menu opens, says so while they answer, then lists each with its address, TLS and version or why not", async () => {
    const b = fake();
    let answer = () => {};
    b.enginesGate = new Promise<void>((done) => (answer = done));
    render(<App backend={b} />);
    await screen.findByTestId("node-db");
    expect(screen.getByTestId("engine-picker").textContent).toBe("default");
    fireEvent.click(screen.getByTestId("engine-picker"));
    expect(screen.getByTestId("engine-picker").getAttribute("aria-expanded")).toBe("true");
    expect((await screen.findByTestId("engine-loading")).textContent).toBe("Asking the engines…");
    expect(b.calls.filter((c) => c === "engines").length).toBe(1);
    await act(async () => answer());
    const local = await screen.findByTestId("engine-row-default");
    expect(screen.queryByTestId("engine-loading")).toBeNull();
    expect(screen.getByRole("menu").getAttribute("aria-label")).toBe("Docker engines");
    expect(local.getAttribute("role")).toBe("menuitemradio");
    expect(local.getAttribute("aria-checked")).toBe("true");
    expect(local.textContent).toContain("unix:///var/run/docker.sock");
    expect(local.textContent).toContain("Docker 27.3.1");
    expect(local.querySelector(".badge-tls")).toBeNull();
    expect(local.className).not.toContain("engine-down");
    const far = screen.getByTestId("engine-row-far");
    expect(far.getAttribute("aria-checked")).toBe("false");
    expect(far.textContent).toContain("tcp://far.example.net:2376");
    expect(far.querySelector(".badge-tls")?.getAttribute("title")).toContain("/home/u/.docker/contexts/tls/far");
    expect(far.className).toContain("engine-down");
    const why = far.querySelector(".engine-error") as HTMLElement;
    expect(why.textContent).toMatch(/^unreachable: error during connect/);
    expect(why.getAttribute("title")).toContain("connect: connection refused");
    // The chosen engine has the focus; the arrows move it.
    expect(document.activeElement).toBe(local);
    fireEvent.keyDown(local, { key: "ArrowDown" });
    expect(document.activeElement).toBe(far);
    fireEvent.keyDown(far, { key: "ArrowDown" });
    expect(document.activeElement).toBe(local);
    fireEvent.keyDown(local, { key: "End" });
    expect(document.activeElement).toBe(far);
  });

  it("choosing another engine remembers it for the stack, then opens the stack again on it", async () => {
    const b = fake();
    render(<App backend={b} />);
    await screen.findByTestId("node-db");
    act(() => b.push({ kind: "snapshot", stack: "lab", containers: snap({ db: container() }) }));
    await waitFor(() => expect(screen.getByTestId("node-db").dataset.status).toBe("healthy"));
    expect(open(b)).toBe(1);
    fireEvent.click(screen.getByTestId("engine-picker"));
    fireEvent.click(await screen.findByTestId("engine-row-far"));
    await waitFor(() => expect(b.calls).toContain("engine lab far"));
    await waitFor(() => expect(open(b)).toBe(2));
    expect(b.calls.lastIndexOf("open lab dev")).toBeGreaterThan(b.calls.indexOf("engine lab far"));
    expect(screen.queryByTestId("engine-menu")).toBeNull();
    await waitFor(() => expect(screen.getByTestId("engine-picker").textContent).toBe("far"));
    // What the engine before said is gone: the diagram is planned until the new engine's state comes.
    expect((await screen.findByTestId("node-db")).dataset.status).toBe("planned");
    expect(screen.getByTestId("notice").textContent).toContain("engine far");
    // The menu says so when opened again.
    fireEvent.click(screen.getByTestId("engine-picker"));
    expect((await screen.findByTestId("engine-row-far")).getAttribute("aria-checked")).toBe("true");
  });

  it("choosing the engine already chosen only closes the menu; a refused choice is shown as an error", async () => {
    const b = fake();
    render(<App backend={b} />);
    await screen.findByTestId("node-db");
    fireEvent.click(screen.getByTestId("engine-picker"));
    fireEvent.click(await screen.findByTestId("engine-row-default"));
    expect(screen.queryByTestId("engine-menu")).toBeNull();
    // The focus back on the picker, even when the click came before the menu focused its row.
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId("engine-picker")));
    expect(b.calls.some((c) => c.startsWith("engine "))).toBe(false);
    expect(open(b)).toBe(1);
    // Its context removed while the menu was open.
    fireEvent.click(screen.getByTestId("engine-picker"));
    const far = await screen.findByTestId("engine-row-far");
    b.engines = b.engines.filter((e) => e.name !== "far");
    fireEvent.click(far);
    expect((await screen.findByTestId("error")).textContent).toContain("no Docker context named far");
    expect(open(b)).toBe(1);
    expect(screen.getByTestId("engine-picker").textContent).toBe("default");
  });

  it("Escape closes the menu (the selected service stays), and so does a click outside", async () => {
    const b = fake();
    render(<App backend={b} />);
    fireEvent.click(await screen.findByTestId("node-api"));
    await screen.findByTestId("panel");
    fireEvent.click(screen.getByTestId("engine-picker"));
    const row = await screen.findByTestId("engine-row-default");
    fireEvent.keyDown(row, { key: "Escape" });
    expect(screen.queryByTestId("engine-menu")).toBeNull();
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId("engine-picker")));
    expect(screen.getByTestId("panel")).toBeTruthy();
    fireEvent.click(screen.getByTestId("engine-picker"));
    await screen.findByTestId("engine-row-default");
    fireEvent.mouseDown(document.body);
    expect(screen.queryByTestId("engine-menu")).toBeNull();
    // Closed while the engines were still being asked: their late answer opens nothing.
    let answer = () => {};
    b.enginesGate = new Promise<void>((done) => (answer = done));
    fireEvent.click(screen.getByTestId("engine-picker"));
    await screen.findByTestId("engine-loading");
    fireEvent.keyDown(screen.getByTestId("engine-picker"), { key: "Escape" });
    await act(async () => answer());
    expect(screen.queryByTestId("engine-menu")).toBeNull();
  });

  it("has no serious or critical axe violation, loading and listed", async () => {
    const b = fake();
    let answer = () => {};
    b.enginesGate = new Promise<void>((done) => (answer = done));
    render(<App backend={b} />);
    await screen.findByTestId("node-db");
    fireEvent.click(screen.getByTestId("engine-picker"));
    await screen.findByTestId("engine-loading");
    const toolbar = screen.getByRole("toolbar");
    const serious = async () => {
      // jsdom has no layout for colour contrast: the colours are checked below.
      const r = await axe.run(toolbar, { rules: { "color-contrast": { enabled: false } } });
      return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.nodes.map((n) => n.html).join(" ")}`);
    };
    expect(await serious()).toEqual([]);
    await act(async () => answer());
    await screen.findByTestId("engine-row-far");
    expect(await serious()).toEqual([]);
  });

  it("writes its text 4.5:1 on its backgrounds in both themes", async () => {
    // The stylesheet as written (vitest hands CSS imports over empty).
    const fs = (await import(/* @vite-ignore */ ["node", "fs"].join(":"))) as { readFileSync(path: string, encoding: "utf8"): string };
    const css = fs.readFileSync(`${process.cwd()}/src/styles.css`, "utf8");
    const vars = (block: string) => Object.fromEntries([...block.matchAll(/(--[\w-]+):\s*(#[0-9a-f]{6})/gi)].map((m) => [m[1], m[2]]));
    const blocks = [...css.matchAll(/:root(\[data-theme="dark"\])?\s*\{([^}]*)\}/g)];
    const light = Object.assign({}, ...blocks.filter((m) => !m[1]).map((m) => vars(m[2])));
    const dark = { ...light, ...Object.assign({}, ...blocks.filter((m) => m[1]).map((m) => vars(m[2]))) };
    const lum = (h: string) => {
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16) / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const ratio = (a: string, b: string) => (Math.max(lum(a), lum(b)) + 0.05) / (Math.min(lum(a), lum(b)) + 0.05);
    // Every colour the menu's rules give its text, on every background they give it (and the
    // menu's own, --card).
    const rules = [...css.matchAll(/([^{}]*)\{([^}]*)\}/g)].filter((m) => /\.engine|\.badge-tls/.test(m[1]));
    const used = (prop: string) => rules.flatMap((m) => [...m[2].matchAll(new RegExp(`(?:^|[;\\s])${prop}:\\s*var\\((--[\\w-]+)\\)`, "g"))].map((v) => v[1]));
    const fgs = [...new Set(used("color"))];
    const bgs = [...new Set(["--card", ...used("background")])];
    expect(fgs).toEqual(expect.arrayContaining(["--fg", "--muted"]));
    expect(bgs).toEqual(expect.arrayContaining(["--card", "--bg"]));
    for (const theme of [light, dark]) {
      for (const fg of fgs) for (const bg of bgs) expect(ratio(theme[fg], theme[bg]), `${fg} on ${bg}`).toBeGreaterThanOrEqual(4.5);
    }
    // Dimmed by colour, never by opacity (which would lower the contrast measured here).
    expect(rules.some((m) => /opacity/.test(m[2]))).toBe(false);
  });
});

describe("the page's start", () => {
  it("opens the first stack once, before React renders, and shows the state the app sent before the window listened", async () => {
    const backend = fake();
    const [early, listening] = listenFromNow(backend);
    const boot = startBoot(early, listening);
    const first = await boot.opened;
    expect(first).toMatchObject({ stack: "lab", env: "dev" });
    await first?.opened;
    // The live state the app sends as the stack opens, before the store listens.
    backend.push({ kind: "snapshot", stack: "lab", containers: snap({ db: container() }) });
    render(<App backend={early} boot={boot} />);
    await waitFor(() => expect(screen.getByTestId("node-db").dataset.status).toBe("healthy"));
    expect(backend.calls.filter((c) => c.startsWith("open "))).toEqual(["open lab dev"]);
    // Another environment, then back: asked for each time.
    fireEvent.change(screen.getByLabelText("environment"), { target: { value: "prod" } });
    await waitFor(() => expect(backend.calls).toContain("open lab prod"));
    fireEvent.change(screen.getByLabelText("environment"), { target: { value: "dev" } });
    await waitFor(() => expect(backend.calls.filter((c) => c.startsWith("open "))).toEqual(["open lab dev", "open lab prod", "open lab dev"]));
  });

  it("draws the diagram's first frame without React Flow, which takes over once that is on screen", async () => {
    render(<App backend={fake()} />);
    const first = await screen.findByTestId("first-frame");
    // The cards, layer names and edges, placed as React Flow places them; no test ids twice.
    expect([...first.querySelectorAll(".svc-name")].map((n) => n.textContent).sort()).toEqual(["api", "db", "migrate"]);
    expect([...first.querySelectorAll(".layer-label")].map((n) => n.textContent).sort()).toEqual(["data", "frontend", "processing"]);
    expect(first.querySelectorAll(".react-flow__edge-path")).toHaveLength(3);
    expect(first.querySelector(".react-flow__viewport")?.getAttribute("style")).toMatch(/translate\(.*\) scale\(/);
    expect(screen.queryByTestId("node-db")).toBeNull();
    await screen.findByTestId("node-db");
    expect(screen.queryByTestId("first-frame")).toBeNull();
  });

  it("a first stack that failed to open does not keep the next one from opening", async () => {
    const backend = fake();
    backend.stacks = { ...backend.stacks, open_stack: "gone", open_env: "dev" };
    const [early, listening] = listenFromNow(backend);
    const boot = startBoot(early, listening);
    const { result } = renderHook(() => useStackStore(early, boot));
    await waitFor(() => expect(result.current[0].error).toContain("no stack gone/dev"));
    // The stack removed: the list names another one to show, with no opening of the page's own.
    act(() => result.current[1]({ type: "stacks", stacks: { ...backend.stacks, open_stack: "lab" } }));
    await waitFor(() => expect(result.current[0].opened?.view.services.length).toBeGreaterThan(0));
    expect(backend.calls.filter((c) => c.startsWith("open "))).toEqual(["open gone dev", "open lab dev"]);
  });

  it("asks to open the stack only once the page hears the app's events", async () => {
    const backend = fake();
    let heard = () => {};
    const onState = backend.onState.bind(backend);
    backend.onState = (l) => new Promise((done) => (heard = () => done(onState(l))));
    const [early, listening] = listenFromNow(backend);
    const boot = startBoot(early, listening);
    await boot.stacks;
    await new Promise((r) => setTimeout(r, 20));
    expect(backend.calls.filter((c) => c.startsWith("open "))).toEqual([]);
    heard();
    await (await boot.opened)?.opened;
    expect(backend.calls.filter((c) => c.startsWith("open "))).toEqual(["open lab dev"]);
  });

  it("holds at most 256 events of a kind for the first listener, the newest", async () => {
    const backend = fake();
    const [early, listening] = listenFromNow(backend);
    await listening;
    for (let i = 0; i < 300; i++) backend.reload({ stack: "lab", env: `e${i}`, view: null, error: null });
    const got: string[] = [];
    await early.onReloaded((e) => got.push(e.env));
    expect(got.length).toBe(256);
    expect(got[0]).toBe("e44");
    backend.reload({ stack: "lab", env: "live", view: null, error: null });
    expect(got.at(-1)).toBe("live");
  });
});
