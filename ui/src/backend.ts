// The one interface the UI talks to. `tauri.ts` implements it over the real app; `fake.ts`
// serves component tests.
import type { FocusService } from "./bindings/FocusService";
import type { LogLineDto } from "./bindings/LogLineDto";
import type { ProgressEvent } from "./bindings/ProgressEvent";
import type { ServiceAction } from "./bindings/ServiceAction";
import type { StackView } from "./bindings/StackView";
import type { Stacks } from "./bindings/Stacks";
import type { StateEvent } from "./bindings/StateEvent";
import type { UsageEvent } from "./bindings/UsageEvent";

export type Command =
  | "list_stacks"
  | "open_stack"
  | "stack_up"
  | "stack_down"
  | "service_control"
  | "service_health"
  | "set_notifications"
  | "logs_follow"
  | "logs_stop";

export interface Backend {
  listStacks(): Promise<Stacks>;
  openStack(stack: string, env: string): Promise<StackView>;
  up(stack: string, env: string, onEvent: (e: ProgressEvent) => void): Promise<void>;
  down(stack: string, env: string, onEvent: (e: ProgressEvent) => void): Promise<void>;
  control(stack: string, env: string, service: string, action: ServiceAction): Promise<void>;
  health(stack: string, env: string, service: string): Promise<string[]>;
  /** Streams the logs of `services` (all when empty) to `onLine`; resolves to the stream's id. */
  followLogs(stack: string, env: string, services: string[], onLine: (l: LogLineDto) => void): Promise<number>;
  stopLogs(id: number): Promise<void>;
  /** Switches desktop notifications for a stack's incidents on or off (kept across runs). */
  setNotifications(stack: string, enabled: boolean): Promise<void>;
  /** Live state of the open stack; returns the function that stops listening. */
  onState(listener: (e: StateEvent) => void): Promise<() => void>;
  /** CPU and memory samples of the open stack's services, as the engine streams them. */
  onUsage(listener: (e: UsageEvent) => void): Promise<() => void>;
  /** A notification was clicked: show that service. */
  onFocus(listener: (e: FocusService) => void): Promise<() => void>;
}

/** What a failed command rejects with (ApiError); anything else is wrapped as `internal`. */
export function apiError(e: unknown): { code: string; message: string } {
  if (e && typeof e === "object" && "code" in e && "message" in e) {
    return e as { code: string; message: string };
  }
  return { code: "internal", message: String(e) };
}
