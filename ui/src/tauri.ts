// The only module that imports @tauri-apps/api.
import { Channel, invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { Backend } from "./backend";
import type { FocusService } from "./bindings/FocusService";
import type { StateEvent } from "./bindings/StateEvent";
import type { UsageEvent } from "./bindings/UsageEvent";

/** Callbacks become channels that the app streams over. */
function withChannels(args: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(args).map(([k, v]) => {
      if (typeof v !== "function") return [k, v];
      const ch = new Channel<unknown>();
      ch.onmessage = v as (m: unknown) => void;
      return [k, ch];
    }),
  );
}

export const tauriBackend: Backend = {
  call: (cmd, args) => invoke(cmd, withChannels(args)),
  onState: (listener) => listen<StateEvent>("stack-state", (e) => listener(e.payload)),
  onUsage: (listener) => listen<UsageEvent>("stack-usage", (e) => listener(e.payload)),
  onFocus: (listener) => listen<FocusService>("focus-service", (e) => listener(e.payload)),
};
