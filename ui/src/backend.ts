// The one interface the UI talks to. `tauri.ts` implements it over the real app; `fake.ts`
// serves component tests.
import type { BackupList } from "./bindings/BackupList";
import type { BackupProgress } from "./bindings/BackupProgress";
import type { BackupSetDto } from "./bindings/BackupSetDto";
import type { BackupSettingsDto } from "./bindings/BackupSettingsDto";
import type { DriftDto } from "./bindings/DriftDto";
import type { FocusService } from "./bindings/FocusService";
import type { RestoreResult } from "./bindings/RestoreResult";
import type { LogLineDto } from "./bindings/LogLineDto";
import type { ProgressEvent } from "./bindings/ProgressEvent";
import type { ServiceAction } from "./bindings/ServiceAction";
import type { StackView } from "./bindings/StackView";
import type { Stacks } from "./bindings/Stacks";
import type { StateEvent } from "./bindings/StateEvent";
import type { SwitchResult } from "./bindings/SwitchResult";
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
  | "logs_stop"
  | "backups_list"
  | "backup_create"
  | "backup_cancel"
  | "backup_verify"
  | "backup_restore"
  | "backup_settings_save"
  | "stack_switch"
  | "stack_drift"
  | "service_repair";

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
  /** The stack's backup sets, what its backups cover, and the backup settings. */
  listBackups(stack: string, env: string): Promise<BackupList>;
  /** Takes a backup set now; resolves once it is written and verified. */
  backup(stack: string, env: string, onEvent: (e: BackupProgress) => void): Promise<BackupSetDto>;
  /** Cancels the running backup or restore. */
  cancelBackup(): Promise<void>;
  verifyBackup(stack: string, env: string, id: string, onEvent: (e: BackupProgress) => void): Promise<BackupSetDto>;
  /** Restores a set (`only` its items given; all when empty), safety set first. */
  restore(stack: string, env: string, id: string, only: string[], onEvent: (e: BackupProgress) => void): Promise<RestoreResult>;
  saveBackupSettings(settings: BackupSettingsDto): Promise<BackupSettingsDto>;
  /** Switches the running stack to environment `to` (checked first, rolled back on failure),
   * after a safety backup when `backup`, rebuilding every image without cache when `noCache`. */
  switchEnv(stack: string, to: string, opts: { backup: boolean; noCache: boolean }, onEvent: (e: ProgressEvent) => void): Promise<SwitchResult>;
  /** Whether each service runs what environment `env` asks for. */
  drift(stack: string, env: string): Promise<DriftDto[]>;
  /** Rebuilds (when its target is wrong) and recreates a drifted service. */
  repair(stack: string, env: string, service: string, onEvent: (e: ProgressEvent) => void): Promise<void>;
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
