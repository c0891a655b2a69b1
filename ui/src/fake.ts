// A backend without a window or an engine, for component tests: it records calls and lets a
// test push live state and progress as the real app would.
import type { Backend } from "./backend";
import type { DriftDto } from "./bindings/DriftDto";
import type { SwitchResult } from "./bindings/SwitchResult";
import type { BackupList } from "./bindings/BackupList";
import type { BackupProgress } from "./bindings/BackupProgress";
import type { BackupSetDto } from "./bindings/BackupSetDto";
import type { BackupSettingsDto } from "./bindings/BackupSettingsDto";
import type { FocusService } from "./bindings/FocusService";
import type { LogLineDto } from "./bindings/LogLineDto";
import type { ProgressEvent } from "./bindings/ProgressEvent";
import type { ServiceAction } from "./bindings/ServiceAction";
import type { StackView } from "./bindings/StackView";
import type { Stacks } from "./bindings/Stacks";
import type { StateEvent } from "./bindings/StateEvent";
import type { UsageEvent } from "./bindings/UsageEvent";

export class FakeBackend implements Backend {
  calls: string[] = [];
  listeners: ((e: StateEvent) => void)[] = [];
  focusListeners: ((e: FocusService) => void)[] = [];
  usageListeners: ((e: UsageEvent) => void)[] = [];
  /** Progress events `up` sends before it resolves (or rejects with `upError`). */
  upEvents: ProgressEvent[] = [];
  upError: unknown = null;

  constructor(
    public stacks: Stacks,
    public views: Record<string, StackView>,
  ) {}

  async listStacks() {
    return this.stacks;
  }
  async openStack(stack: string, env: string) {
    this.calls.push(`open ${stack} ${env}`);
    const v = this.views[`${stack}/${env}`];
    if (!v) throw { code: "invalid_stack", message: `no stack ${stack}/${env}` };
    return v;
  }
  async up(stack: string, env: string, onEvent: (e: ProgressEvent) => void) {
    this.calls.push(`up ${stack} ${env}`);
    this.upEvents.forEach(onEvent);
    if (this.upError) throw this.upError;
  }
  async down(stack: string, env: string) {
    this.calls.push(`down ${stack} ${env}`);
  }
  async control(_stack: string, _env: string, service: string, action: ServiceAction) {
    this.calls.push(`${action} ${service}`);
  }
  async health() {
    return ["exit 0: ok"];
  }
  logSinks: ((l: LogLineDto) => void)[] = [];
  async followLogs(_stack: string, _env: string, services: string[], onLine: (l: LogLineDto) => void) {
    this.calls.push(`logs ${services.join(",") || "all"}`);
    this.logSinks.push(onLine);
    return this.logSinks.length;
  }
  async stopLogs(id: number) {
    this.calls.push(`logs stop ${id}`);
  }
  log(l: LogLineDto) {
    this.logSinks.forEach((s) => s(l));
  }
  async setNotifications(stack: string, enabled: boolean) {
    this.calls.push(`notifications ${stack} ${enabled}`);
  }
  backupList: BackupList = {
    sets: [],
    interrupted: [],
    unreadable: [],
    covers: ["db:sirius-postgres", "volume:postgres_data"],
    settings: { dir: "/home/u/.local/share/sirius-deck/backups", keep: 10, maxAgeDays: null, keepSafety: 3 },
  };
  /** Progress events a backup or restore sends before it resolves (or rejects with `backupError`). */
  backupEvents: BackupProgress[] = [];
  backupError: unknown = null;
  newSet: BackupSetDto | null = null;
  async listBackups(stack: string, env: string) {
    this.calls.push(`backups ${stack} ${env}`);
    return this.backupList;
  }
  async backup(stack: string, _env: string, onEvent: (e: BackupProgress) => void) {
    this.calls.push(`backup ${stack}`);
    this.backupEvents.forEach(onEvent);
    if (this.backupError) throw this.backupError;
    if (!this.newSet) throw { code: "internal", message: "no set" };
    this.backupList = { ...this.backupList, sets: [this.newSet, ...this.backupList.sets] };
    return this.newSet;
  }
  async cancelBackup() {
    this.calls.push("cancel backup");
  }
  async verifyBackup(_stack: string, _env: string, id: string) {
    this.calls.push(`verify ${id}`);
    const set = this.backupList.sets.find((s) => s.id === id);
    if (!set) throw { code: "refused", message: `no set ${id}` };
    return set;
  }
  async restore(_stack: string, _env: string, id: string, only: string[], onEvent: (e: BackupProgress) => void) {
    this.calls.push(`restore ${id} ${only.join(",") || "all"}`);
    this.backupEvents.forEach(onEvent);
    if (this.backupError) throw this.backupError;
    return { set: id, items: only, safety: "2026-11-28T08-00-00Z-safety", elapsedMs: 4200 };
  }
  async saveBackupSettings(settings: BackupSettingsDto) {
    this.calls.push(`settings keep=${settings.keep}`);
    this.backupList = { ...this.backupList, settings };
    return settings;
  }
  driftResult: DriftDto[] = [];
  switchError: unknown = null;
  async switchEnv(stack: string, to: string, opts: { backup: boolean; noCache: boolean }, onEvent: (e: ProgressEvent) => void): Promise<SwitchResult> {
    this.calls.push(`switch ${stack} ${to}${opts.backup ? " backup" : ""}${opts.noCache ? " no-cache" : ""}`);
    this.upEvents.forEach(onEvent);
    if (this.switchError) throw this.switchError;
    return { from: "dev", to, safety: "2026-11-28T08-00-00Z-safety", built: [], rebuiltNoCache: ["api"], drift: this.driftResult, elapsedMs: 12000 };
  }
  async drift(stack: string, env: string) {
    this.calls.push(`drift ${stack} ${env}`);
    return this.driftResult;
  }
  async repair(_stack: string, _env: string, service: string) {
    this.calls.push(`repair ${service}`);
    this.driftResult = this.driftResult.map((d) => (d.service === service ? { ...d, verdict: "match", summary: "", fix: null } : d));
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
}
