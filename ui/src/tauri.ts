// The only module that imports @tauri-apps/api.
import { Channel, invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import { received } from "./activity";
import type { Backend } from "./backend";
import type { FocusService } from "./bindings/FocusService";
import type { Reloaded } from "./bindings/Reloaded";
import type { StateEvent } from "./bindings/StateEvent";
import type { SwarmEvent } from "./bindings/SwarmEvent";
import type { UsageEvent } from "./bindings/UsageEvent";

/** Callbacks become channels that the app streams over. */
function withChannels(args: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(args).map(([k, v]) => {
      if (typeof v !== "function") return [k, v];
      const ch = new Channel<unknown>();
      ch.onmessage = (m: unknown) => {
        received("channel");
        (v as (m: unknown) => void)(m);
      };
      return [k, ch];
    }),
  );
}

/** Listens to one of the app's events (each counted as received). */
function on<T>(event: string, listener: (payload: T) => void) {
  return listen<T>(event, (e) => {
    received(event);
    listener(e.payload);
  });
}

export const tauriBackend: Backend = {
  call: (cmd, args) => invoke(cmd, withChannels(args)),
  onState: (listener) => on<StateEvent>("stack-state", listener),
  onSwarm: (listener) => on<SwarmEvent>("stack-swarm", listener),
  onUsage: (listener) => on<UsageEvent>("stack-usage", listener),
  onFocus: (listener) => on<FocusService>("focus-service", listener),
  onReloaded: (listener) => on<Reloaded>("stack-reloaded", listener),
};
