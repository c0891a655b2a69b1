// A backend without a window or an engine, for component tests: it records calls, answers each
// command as the real app would, and lets a test push live state and progress.
import type { Args, Backend, Command, Result } from "./backend";
import type { BackupList } from "./bindings/BackupList";
import type { BackupSet } from "./bindings/BackupSet";
import type { SwarmEvent } from "./bindings/SwarmEvent";
import type { Detected } from "./bindings/Detected";
import type { EdgeCheck } from "./bindings/EdgeCheck";
import type { EngineInfo } from "./bindings/EngineInfo";
import type { Event } from "./bindings/Event";
import type { FocusService } from "./bindings/FocusService";
import type { LogLine } from "./bindings/LogLine";
import type { OpenedStack } from "./bindings/OpenedStack";
import type { PlannedChange } from "./bindings/PlannedChange";
import type { Reloaded } from "./bindings/Reloaded";
import type { ServiceDrift } from "./bindings/ServiceDrift";
import type { Stacks } from "./bindings/Stacks";
import type { StateEvent } from "./bindings/StateEvent";
import type { TermOutput } from "./bindings/TermOutput";
import type { UsageEvent } from "./bindings/UsageEvent";

type Handlers = { [K in Command]: (args: Args<K>) => Promise<Result<K>> };

export class FakeBackend implements Backend {
  calls: string[] = [];
  listeners: ((e: StateEvent) => void)[] = [];
  focusListeners: ((e: FocusService) => void)[] = [];
  reloadListeners: ((e: Reloaded) => void)[] = [];
  usageListeners: ((e: UsageEvent) => void)[] = [];
  logSinks: ((l: LogLine) => void)[] = [];
  /** Progress events up, down and switch send before they resolve (or reject). */
  upEvents: Event[] = [];
  upError: unknown = null;
  backupList: BackupList = {
    sets: [],
    interrupted: [],
    unreadable: [],
    covers: ["db:sirius-postgres", "volume:postgres_data"],
    settings: { dir: "/home/u/.local/share/sirius-deck/backups", keep: 10, max_age_days: null, keep_safety: 3 },
  };
  /** Progress events a backup or restore sends before it resolves (or rejects with `backupError`). */
  backupEvents: Event[] = [];
  backupError: unknown = null;
  newSet: BackupSet | null = null;
  driftResult: ServiceDrift[] = [];
  switchPlan: PlannedChange[] = [
    { service: "postgres", change: "kept", reason: null },
    { service: "api", change: "recreated", reason: "its configuration differs" },
  ];
  switchError: unknown = null;

  /** The engines there are (the docker CLI's contexts), as each answered when asked: the
   * local one, and one over TCP with TLS that does not answer. */
  engines: EngineInfo[] = [
    { name: "default", host: "unix:///var/run/docker.sock", description: "Current DOCKER_HOST based configuration", tls: null, current: true, version: "27.3.1", error: null, chosen: true },
    {
      name: "far",
      host: "tcp://far.example.net:2376",
      description: "The build server",
      tls: "/home/u/.docker/contexts/tls/far",
      current: false,
      version: null,
      error: "error during connect: Get \"https://far.example.net:2376/v1.47/version\": dial tcp 203.0.113.7:2376: connect: connection refused",
      chosen: false,
    },
  ];
  /** The engine chosen for each stack (else the docker CLI's current one). */
  stackEngines: Record<string, string> = {};
  /** While set, the engines are still being asked: the list waits for it. */
  enginesGate: Promise<unknown> | null = null;

  /** `views`: each stack/environment's diagram and notifications (the engine is the fake's). */
  constructor(
    public stacks: Stacks,
    public views: Record<string, Omit<OpenedStack, "engine">>,
  ) {}

  /** The engine the app talks to now. */
  private talkTo(engine: string) {
    this.engines = this.engines.map((e) => ({ ...e, chosen: e.name === engine }));
  }

  private handlers: Handlers = {
    list_stacks: async () => this.stacks,
    set_theme: async ({ theme }) => {
      this.calls.push(`theme ${theme}`);
      return null;
    },
    open_stack: async ({ stack, env }) => {
      this.calls.push(`open ${stack} ${env}`);
      const v = this.views[`${stack}/${env}`];
      if (!v) throw { code: "invalid", message: `no stack ${stack}/${env}`, diagnostics: [] };
      const engine = this.stackEngines[stack] ?? this.engines.find((e) => e.current)?.name ?? "default";
      this.talkTo(engine);
      return { ...v, engine };
    },
    engines_list: async () => {
      this.calls.push("engines");
      if (this.enginesGate) await this.enginesGate;
      return this.engines;
    },
    engine_choose: async ({ stack, engine }) => {
      this.calls.push(`engine ${stack} ${engine}`);
      if (!this.engines.some((e) => e.name === engine)) throw { code: "invalid", message: `no Docker context named ${engine}`, diagnostics: [] };
      this.stackEngines[stack] = engine;
      this.talkTo(engine);
      return null;
    },
    stack_up: async ({ stack, env, onEvent }) => {
      this.calls.push(`up ${stack} ${env}`);
      this.upEvents.forEach(onEvent);
      if (this.upError) throw this.upError;
      return { elapsed_ms: 1000, services: {}, orphans: [] };
    },
    stack_down: async ({ stack, env }) => {
      this.calls.push(`down ${stack} ${env}`);
      return { volumes_removed: [], volumes_kept: [] };
    },
    service_control: async ({ service, action }) => {
      this.calls.push(`${action} ${service}`);
      return null;
    },
    service_health: async () => [{ container: null, started: "2026-11-28T05:00:00Z", exit_code: 0, output: "ok" }],
    service_inspect: async ({ service }) => [
      {
        container: `lab-${service}-1`,
        id: "c0ffee",
        image: `lab/${service}:dev`,
        build_target: "development",
        entrypoint: [],
        command: ["serve"],
        working_dir: "/app",
        user: null,
        env: [
          { name: "LOG_LEVEL", value: "debug", masked: false },
          { name: "POSTGRES_PASSWORD", value: null, masked: true },
        ],
        mounts: [{ kind: "volume", source: "data", destination: "/data", read_only: false }],
        networks: [{ name: "lab_default", ip: "172.18.0.4", aliases: [service] }],
        ports: ["0.0.0.0:9001->9001/tcp"],
        labels: { "com.docker.compose.service": service },
        restart_policy: "unless-stopped",
      },
    ],
    env_reveal: async ({ container, name }) => {
      this.calls.push(`reveal ${container} ${name}`);
      return "s3cret-value";
    },
    set_notifications: async ({ stack, enabled }) => {
      this.calls.push(`notifications ${stack} ${enabled}`);
      return null;
    },
    logs_follow: async ({ services, onLine }) => {
      this.calls.push(`logs ${services.join(",") || "all"}`);
      this.logSinks.push(onLine);
      return this.logSinks.length;
    },
    logs_stop: async ({ id }) => {
      this.calls.push(`logs stop ${id}`);
      return null;
    },
    logs_export: async ({ text, suggestedName }) => {
      this.calls.push(`export ${suggestedName}`);
      this.exported = text;
      return "/tmp/fake.log";
    },
    stack_folder_choose: async () => {
      this.calls.push("choose folder");
      return this.folder;
    },
    stack_add: async ({ name, envs, defaultEnv }) => {
      this.calls.push(`add ${name} ${JSON.stringify(envs)} ${defaultEnv}`);
      if (this.addError) throw this.addError;
      const added = { name, description: "", envs: Object.keys(envs), default_env: defaultEnv, is_default: false, invalid: null, own: true };
      this.stacks = { ...this.stacks, stacks: [...this.stacks.stacks, added] };
      this.views[`${name}/${defaultEnv}`] = { view: { stack: name, env: defaultEnv, project: name, services: [], diagnostics: [], invalid: false }, notifications: true };
      return added;
    },
    stack_rename: async ({ stack, to }) => {
      this.calls.push(`rename ${stack} ${to}`);
      const s = this.stacks.stacks.find((x) => x.name === stack);
      if (!s) throw { code: "invalid", message: `no stack ${stack}`, diagnostics: [] };
      const renamed = { ...s, name: to };
      this.stacks = { ...this.stacks, stacks: this.stacks.stacks.map((x) => (x.name === stack ? renamed : x)) };
      for (const e of s.envs) this.views[`${to}/${e}`] = this.views[`${stack}/${e}`];
      return renamed;
    },
    stack_remove: async ({ stack }) => {
      this.calls.push(`remove ${stack}`);
      this.stacks = { ...this.stacks, stacks: this.stacks.stacks.filter((x) => x.name !== stack) };
      return null;
    },
    stack_connectivity: async ({ service }) => {
      this.calls.push(`connectivity ${service ?? "all"}`);
      return this.connectivity.filter((c) => !service || c.from === service);
    },
    open_file: async ({ file, line }) => {
      this.calls.push(`open file ${file}:${line ?? ""}`);
      return null;
    },
    terminal_open: async ({ service, size, onOutput }) => {
      this.calls.push(`terminal open ${service} ${size.cols}x${size.rows}`);
      this.terminalOutput = onOutput;
      return 7;
    },
    terminal_input: async ({ id, data }) => {
      this.calls.push(`terminal input ${id} ${JSON.stringify(data)}`);
      return null;
    },
    terminal_resize: async ({ id, size }) => {
      this.calls.push(`terminal resize ${id} ${size.cols}x${size.rows}`);
      return null;
    },
    terminal_close: async ({ id }) => {
      this.calls.push(`terminal close ${id}`);
      return null;
    },
    backups_list: async ({ stack, env }) => {
      this.calls.push(`backups ${stack} ${env}`);
      return this.backupList;
    },
    backup_create: async ({ stack, onEvent }) => {
      this.calls.push(`backup ${stack}`);
      this.backupEvents.forEach(onEvent);
      if (this.backupError) throw this.backupError;
      if (!this.newSet) throw { code: "internal", message: "no set", diagnostics: [] };
      this.backupList = { ...this.backupList, sets: [this.newSet, ...this.backupList.sets] };
      return this.newSet;
    },
    backup_folder_choose: async () => {
      this.calls.push("choose folder");
      this.backupList = { ...this.backupList, settings: { ...this.backupList.settings, dir: "/chosen/in/the/dialog" } };
      return this.backupList.settings;
    },
    interrupted_resolve: async ({ stack, op, resolution }) => {
      this.calls.push(`recover ${stack} ${op} ${resolution}`);
      this.backupList = { ...this.backupList, interrupted: [] };
      return resolution === "roll_back" ? "rolled back to the safety set" : "done";
    },
    backup_cancel: async () => {
      this.calls.push("cancel backup");
      return null;
    },
    backup_verify: async ({ id }) => {
      this.calls.push(`verify ${id}`);
      const set = this.backupList.sets.find((s) => s.id === id);
      if (!set) throw { code: "refused", message: `no set ${id}`, diagnostics: [] };
      return set;
    },
    backup_restore: async ({ request, onEvent }) => {
      this.calls.push(`restore ${request.id} ${request.options.only.join(",") || "all"}`);
      this.backupEvents.forEach(onEvent);
      if (this.backupError) throw this.backupError;
      return { set: request.id, items: request.options.only, safety: "2026-11-28T08-00-00Z-safety", elapsed_ms: 4200 };
    },
    backup_settings_save: async ({ change }) => {
      this.calls.push(`settings keep=${change.keep}`);
      const settings = { ...this.backupList.settings, keep: change.keep ?? this.backupList.settings.keep };
      this.backupList = { ...this.backupList, settings };
      return settings;
    },
    stack_switch: async ({ stack, to, options, onEvent }) => {
      const backup = options.backup ?? to === "prod";
      this.calls.push(`switch ${stack} ${to}${backup ? " backup" : ""}${options.no_cache ? " no-cache" : ""}${options.no_build ? " no-build" : ""}`);
      this.upEvents.forEach(onEvent);
      if (this.switchError) throw this.switchError;
      return { from: "dev", to, safety: "2026-11-28T08-00-00Z-safety", built: [], rebuilt_no_cache: ["api"], plan: this.switchPlan, drift: this.driftResult, elapsed_ms: 12000 };
    },
    stack_switch_plan: async ({ to, options }) => {
      this.calls.push(`switch-plan ${to}${options.full_restart ? " full-restart" : ""}`);
      return this.switchPlan;
    },
    stack_drift: async ({ stack, env }) => {
      this.calls.push(`drift ${stack} ${env}`);
      return this.driftResult;
    },
    window_drawn: async () => {
      this.calls.push("drawn");
      return null;
    },
    window_shows: async ({ visible, detailed }) => {
      this.calls.push(`shows ${visible ? "visible" : "hidden"} ${detailed ?? "-"}`);
      return null;
    },
    service_repair: async ({ service }) => {
      this.calls.push(`repair ${service}`);
      this.driftResult = this.driftResult.map((d) => (d.service === service ? { ...d, verdict: "match", summary: "", fix: null } : d));
      return { rebuilt: true, drift: this.driftResult };
    },
  };

  call<K extends Command>(cmd: K, args: Args<K>): Promise<Result<K>> {
    return (this.handlers[cmd] as (a: Args<K>) => Promise<Result<K>>)(args);
  }

  /** The text the last log export saved. */
  exported: string | null = null;
  /** The folder the system's dialog gives (null: closed), and why adding it fails. */
  folder: Detected | null = null;
  addError: unknown = null;
  /** What a connectivity check finds. */
  connectivity: EdgeCheck[] = [];
  /** Where the open shell's output goes. */
  terminalOutput: ((m: TermOutput) => void) | null = null;

  log(l: LogLine) {
    this.logSinks.forEach((s) => s(l));
  }
  async onReloaded(listener: (e: Reloaded) => void) {
    this.reloadListeners.push(listener);
    return () => {
      this.reloadListeners = this.reloadListeners.filter((l) => l !== listener);
    };
  }

  /** The open stack's files changed (as the app reports it). */
  reload(e: Reloaded) {
    this.reloadListeners.forEach((l) => l(e));
  }

  async onFocus(listener: (e: FocusService) => void) {
    this.focusListeners.push(listener);
    return () => {
      this.focusListeners = this.focusListeners.filter((l) => l !== listener);
    };
  }
  async onUsage(listener: (e: UsageEvent) => void) {
    this.usageListeners.push(listener);
    return () => {
      this.usageListeners = this.usageListeners.filter((l) => l !== listener);
    };
  }
  usage(e: UsageEvent) {
    this.usageListeners.forEach((l) => l(e));
  }
  focus(e: FocusService) {
    this.focusListeners.forEach((l) => l(e));
  }
  async onState(listener: (e: StateEvent) => void) {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }
  push(e: StateEvent) {
    this.listeners.forEach((l) => l(e));
  }
  swarmListeners: ((e: SwarmEvent) => void)[] = [];
  async onSwarm(listener: (e: SwarmEvent) => void) {
    this.swarmListeners.push(listener);
    return () => {
      this.swarmListeners = this.swarmListeners.filter((l) => l !== listener);
    };
  }
  /** A swarm stack's nodes and tasks changed (as the app reports it). */
  swarm(e: SwarmEvent) {
    this.swarmListeners.forEach((l) => l(e));
  }
}
