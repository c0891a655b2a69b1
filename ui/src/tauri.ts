// The only module that imports @tauri-apps/api.
import { Channel, invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { Backend, Command } from "./backend";
import type { FocusService } from "./bindings/FocusService";
import type { LogLineDto } from "./bindings/LogLineDto";
import type { ProgressEvent } from "./bindings/ProgressEvent";
import type { StateEvent } from "./bindings/StateEvent";
import type { UsageEvent } from "./bindings/UsageEvent";

function call<T>(cmd: Command, args?: Record<string, unknown>): Promise<T> {
  return invoke<T>(cmd, args);
}

function progress(onEvent: (e: ProgressEvent) => void): Channel<ProgressEvent> {
  const ch = new Channel<ProgressEvent>();
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
  onState: (listener) => listen<StateEvent>("stack-state", (e) => listener(e.payload)),
  onUsage: (listener) => listen<UsageEvent>("stack-usage", (e) => listener(e.payload)),
  onFocus: (listener) => listen<FocusService>("focus-service", (e) => listener(e.payload)),
};
