// The only module that imports @tauri-apps/api.
import { Channel, invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { Backend, Command } from "./backend";
import type { BackupProgress } from "./bindings/BackupProgress";
import type { FocusService } from "./bindings/FocusService";
import type { LogLineDto } from "./bindings/LogLineDto";
import type { ProgressEvent } from "./bindings/ProgressEvent";
import type { StateEvent } from "./bindings/StateEvent";
import type { UsageEvent } from "./bindings/UsageEvent";

function call<T>(cmd: Command, args?: Record<string, unknown>): Promise<T> {
  return invoke<T>(cmd, args);
}

function progress<T = ProgressEvent>(onEvent: (e: T) => void): Channel<T> {
  const ch = new Channel<T>();
  ch.onmessage = onEvent;
  return ch;
}

export const tauriBackend: Backend = {
  listStacks: () => call("list_stacks"),
  openStack: (stack, env) => call("open_stack", { stack, env }),
  up: (stack, env, onEvent) => call("stack_up", { stack, env, onEvent: progress(onEvent) }),
  down: (stack, env, onEvent) => call("stack_down", { stack, env, onEvent: progress(onEvent) }),
  control: (stack, env, service, action) => call("service_control", { stack, env, service, action }),
  health: (stack, env, service) => call("service_health", { stack, env, service }),
  followLogs: (stack, env, services, onLine) => {
    const ch = new Channel<LogLineDto>();
    ch.onmessage = onLine;
    return call("logs_follow", { stack, env, services, tail: 1000, onLine: ch });
  },
  stopLogs: (id) => call("logs_stop", { id }),
  setNotifications: (stack, enabled) => call("set_notifications", { stack, enabled }),
  listBackups: (stack, env) => call("backups_list", { stack, env }),
  backup: (stack, env, onEvent) => call("backup_create", { stack, env, onEvent: progress<BackupProgress>(onEvent) }),
  cancelBackup: () => call("backup_cancel"),
  verifyBackup: (stack, env, id, onEvent) => call("backup_verify", { stack, env, id, onEvent: progress<BackupProgress>(onEvent) }),
  restore: (stack, env, id, only, onEvent) => call("backup_restore", { stack, env, id, only, onEvent: progress<BackupProgress>(onEvent) }),
  saveBackupSettings: (settings) => call("backup_settings_save", { settings }),
  switchEnv: (stack, to, opts, onEvent) => call("stack_switch", { stack, to, backup: opts.backup, noCache: opts.noCache, onEvent: progress(onEvent) }),
  drift: (stack, env) => call("stack_drift", { stack, env }),
  repair: (stack, env, service, onEvent) => call("service_repair", { stack, env, service, onEvent: progress(onEvent) }),
  onState: (listener) => listen<StateEvent>("stack-state", (e) => listener(e.payload)),
  onUsage: (listener) => listen<UsageEvent>("stack-usage", (e) => listener(e.payload)),
  onFocus: (listener) => listen<FocusService>("focus-service", (e) => listener(e.payload)),
};
