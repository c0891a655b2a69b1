// The one interface the UI talks to: every command of the app, typed by the list generated
// from the Rust adapters (`bindings/commands.ts`), and the app's live events. `tauri.ts`
// implements it over the real app; `fake.ts` serves component tests.
import type { Channel } from "@tauri-apps/api/core";
import type { ApiError } from "./bindings/ApiError";
import type { Command, Commands } from "./bindings/commands";
import type { FocusService } from "./bindings/FocusService";
import type { Reloaded } from "./bindings/Reloaded";
import type { StateEvent } from "./bindings/StateEvent";
import type { SwarmEvent } from "./bindings/SwarmEvent";
import type { UsageEvent } from "./bindings/UsageEvent";
import { forWindow } from "./words";

export type { Command };

/** A command's arguments as the UI gives them: each channel is a callback. */
export type Args<K extends Command> = {
  [P in keyof Commands[K]["args"]]: Commands[K]["args"][P] extends Channel<infer T> ? (message: T) => void : Commands[K]["args"][P];
};

export type Result<K extends Command> = Commands[K]["result"];

export interface Backend {
  /** Runs a command of the app. */
  call<K extends Command>(cmd: K, args: Args<K>): Promise<Result<K>>;
  /** Live state of the open stack; returns the function that stops listening. */
  onState(listener: (e: StateEvent) => void): Promise<() => void>;
  /** The nodes and tasks of the open stack when it runs on a swarm, as they change. */
  onSwarm(listener: (e: SwarmEvent) => void): Promise<() => void>;
  /** CPU and memory samples of the open stack's services, as the engine streams them. */
  onUsage(listener: (e: UsageEvent) => void): Promise<() => void>;
  /** A notification was clicked: show that service. */
  onFocus(listener: (e: FocusService) => void): Promise<() => void>;
  /** The open stack's files changed: its diagram as they load now, or their errors. */
  onReloaded(listener: (e: Reloaded) => void): Promise<() => void>;
}

/** An error as a person reads it: the message, then what is wrong in which file and line. */
export function errorText(e: ApiError): string {
  const where = (d: ApiError["diagnostics"][number]) => `${d.file ?? ""}${d.line ? `:${d.line}` : ""}`;
  return [e.message, ...e.diagnostics.map((d) => `${where(d)}: ${d.key ? `${d.key}: ` : ""}${d.message}`)].join("\n");
}

/** What a failed command rejects with (its message for the window's user); anything else is
 * an internal error. */
export function apiError(e: unknown): ApiError {
  if (e && typeof e === "object" && "code" in e && "message" in e) {
    const err = e as ApiError;
    return { ...err, message: forWindow(err.message), diagnostics: err.diagnostics ?? [] };
  }
  return { code: "internal", message: `Something went wrong inside Sirius Deck: ${String(e)}`, diagnostics: [] };
}
