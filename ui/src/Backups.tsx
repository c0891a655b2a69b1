import { useCallback, useEffect, useState } from "react";
import { apiError, errorText, type Backend } from "./backend";
import type { BackupList } from "./bindings/BackupList";
import type { BackupSet } from "./bindings/BackupSet";
import type { BackupSettings } from "./bindings/BackupSettings";
import type { Event } from "./bindings/Event";
import type { InterruptedOp } from "./bindings/InterruptedOp";
import type { Resolution } from "./bindings/Resolution";
import type { Phase } from "./bindings/Phase";
import { OP_LABEL, useOperation } from "./operation";

/** Bytes as a person reads them. */
export function human(b: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = b;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${b} B` : `${v.toFixed(1)} ${units[u]}`;
}

const OP_NAME: Record<InterruptedOp, string> = { backup: "A backup", restore: "A restore of set", switch: "A switch" };
const RESOLUTION_LABEL: Record<Resolution, string> = { resume: "Resume", roll_back: "Roll back", discard: "Discard" };

export function age(unix: number, now = Date.now() / 1000): string {
  const s = Math.max(0, Math.floor(now - unix));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function Backups({
  backend,
  stack,
  env,
  onClose,
  onBusy,
  onPhases,
}: {
  backend: Backend;
  stack: string;
  env: string;
  onClose: () => void;
  onBusy?: (op: string | null) => void;
  /** The phases of the services the running backup or restore stopped and started again. */
  onPhases?: (phases: Record<string, Phase>) => void;
}) {
  const [list, setList] = useState<BackupList | null>(null);
  const op = useOperation();
  const [listError, setListError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<{ set: BackupSet; only: string[] } | null>(null);
  const [settings, setSettings] = useState<BackupSettings | null>(null);
  const busy = op.busy;
  // The window shows the containers a backup or restore stops as stopped for it, not crashed.
  useEffect(() => {
    onBusy?.(busy);
    return () => onBusy?.(null);
  }, [onBusy, busy]);
  useEffect(() => onPhases?.(op.progress.phases), [onPhases, op.progress.phases]);
  useEffect(() => () => onPhases?.({}), [onPhases]);

  const refresh = useCallback(() => {
    backend
      .call("backups_list", { stack, env })
      .then((l) => {
        setList(l);
        setSettings((s) => s ?? l.settings);
      })
      .catch((e) => setListError(apiError(e).message));
  }, [backend, stack, env]);

  useEffect(refresh, [refresh]);

  const cancel = () => backend.call("backup_cancel", {});

  /** Runs a backup, verification or restore, and says what came of it. */
  const work = async <T,>(name: string, call: (onEvent: (e: Event) => void) => Promise<T>, done: (r: T) => string, cancellable = false) => {
    setMessage(null);
    const r = await op.run(name, call, cancellable ? cancel : undefined);
    if (r !== undefined) setMessage(done(r));
    refresh();
  };

  const backupNow = () =>
    work("backup", (onEvent) => backend.call("backup_create", { stack, env, onEvent }), (set) => `Backup set ${set.id} written and verified (${human(set.size)}).`, true);

  const verify = (set: BackupSet) =>
    work("verify", (onEvent) => backend.call("backup_verify", { stack, env, id: set.id, onEvent }), (s) => `Set ${s.id} verified: every file matches its checksum.`);

  const restore = () => {
    if (!confirm) return;
    const { set, only } = confirm;
    setConfirm(null);
    const request = { id: set.id, options: { only: only.length === set.items.length ? [] : only, safety: true } };
    work(
      "restore",
      (onEvent) => backend.call("backup_restore", { stack, env, request, onEvent }),
      (r) =>
        `Restored ${r.items.join(", ")} from ${r.set} in ${(r.elapsed_ms / 1000).toFixed(1)}s; every service is ready.${r.safety ? ` The data from before is in safety set ${r.safety}.` : ""}`,
      true,
    );
  };

  const settle = (op: InterruptedOp, resolution: Resolution) =>
    work("recover", (onEvent) => backend.call("interrupted_resolve", { stack, env, op, resolution, onEvent }), (done) => `Done: ${done}.`);

  /** The folder comes from the system's own dialog, opened by the app. */
  const chooseFolder = async () => {
    try {
      const saved = await backend.call("backup_folder_choose", {});
      if (!saved) return;
      setSettings((s) => (s ? { ...s, dir: saved.dir } : saved));
      setMessage(`Backups now go to ${saved.dir}.`);
      setListError(null);
      refresh();
    } catch (e) {
      setListError(apiError(e).message);
    }
  };

  const saveSettings = async () => {
    if (!settings) return;
    try {
      const saved = await backend.call("backup_settings_save", {
        change: { dir: null, keep: settings.keep, max_age_days: settings.max_age_days ?? 0, keep_safety: settings.keep_safety },
      });
      setSettings(saved);
      setMessage("Backup settings saved.");
      setListError(null);
      refresh();
    } catch (e) {
      setListError(apiError(e).message);
    }
  };

  const error = op.error ? errorText(op.error) : listError;
  const progress = op.progress;
  const bars = Object.entries(progress.bars);

  return (
    <section className="backups" aria-label="backups" data-testid="backups">
      <div className="panel-head">
        <h2>Backups of {stack}</h2>
        <button aria-label="close backups" onClick={onClose} disabled={busy !== null}>
          ×
        </button>
      </div>
      <p className="muted">
        Covers: {list?.covers.join(", ") || "…"}. Sets in <code>{list?.settings.dir}</code>.
      </p>
      <div className="actions">
        <button data-testid="backup-now" className="primary" onClick={backupNow} disabled={busy !== null}>
          {busy === "backup" ? "Backing up…" : "Back up now"}
        </button>
        {op.cancel && (
          <button data-testid="backup-cancel" onClick={op.cancel}>
            Cancel
          </button>
        )}
      </div>
      {confirm && (
        <div className="dialog" role="dialog" aria-label="confirm restore" data-testid="restore-confirm">
          <h3>Restore set {confirm.set.id}?</h3>
          <p>This replaces the current data of {stack} with the data of {age(confirm.set.created_unix)}:</p>
          {confirm.set.items.map((i) => (
            <label key={i.id} className="check">
              <input
                type="checkbox"
                checked={confirm.only.includes(i.id)}
                onChange={(e) =>
                  setConfirm({ ...confirm, only: e.target.checked ? [...confirm.only, i.id] : confirm.only.filter((x) => x !== i.id) })
                }
              />{" "}
              {i.description} ({human(i.size)})
            </label>
          ))}
          <p className="muted">
            The services using it are stopped and started again. A safety backup of the current data is taken first; if the restore fails, it is undone
            automatically.
          </p>
          <div className="actions">
            <button data-testid="restore-go" className="danger" onClick={restore} disabled={confirm.only.length === 0}>
              Replace and restore
            </button>
            <button onClick={() => setConfirm(null)}>Cancel</button>
          </div>
        </div>
      )}

      {error && (
        <div className="banner banner-error" role="alert" data-testid="backup-error">
          <pre>{error}</pre>
        </div>
      )}
      {message && (
        <div className="banner banner-ok" role="status" data-testid="backup-message">
          {message}
        </div>
      )}
      {bars.length > 0 && (
        <div className="bars" data-testid="backup-progress">
          {bars.map(([key, b]) => {
            // An estimate the bytes have outgrown says nothing of how far it is: no percentage.
            const known = b.total !== null && b.total > 0 && !(b.estimate && b.done > b.total);
            const pct = b.finished ? 100 : known && b.total ? Math.min(100, (100 * b.done) / b.total) : null;
            return (
              <div key={key} className="bar-row">
                <div className="bar-label">
                  <span>
                    {OP_LABEL[b.op] ?? b.op}: {b.label}
                  </span>
                  <span className="muted">
                    {human(b.done)}
                    {known && b.total ? ` of ${b.estimate ? "~" : ""}${human(b.total)}` : ""}
                    {b.finished ? " ✓" : ""}
                  </span>
                </div>
                <div className="bar" role="progressbar" aria-label={`${b.op} ${b.label}`} aria-valuenow={pct ?? undefined} aria-valuemin={0} aria-valuemax={100}>
                  <div className={pct === null ? "bar-indeterminate" : ""} style={{ width: `${pct ?? 100}%` }} />
                </div>
              </div>
            );
          })}
          <pre className="steps">{progress.lines.slice(-8).join("\n")}</pre>
        </div>
      )}

      <table className="sets" data-testid="backup-sets">
        <thead>
          <tr>
            <th>Set</th>
            <th>Kind</th>
            <th>Env</th>
            <th>Size</th>
            <th>Covers</th>
            <th>Verified</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list?.sets.length === 0 && (
            <tr>
              <td colSpan={7} className="muted">
                No backup sets yet.
              </td>
            </tr>
          )}
          {list?.sets.map((s) => (
            <tr key={s.id} data-testid={`set-${s.id}`}>
              <td title={s.id}>{age(s.created_unix)}</td>
              <td>{s.kind}</td>
              <td>{s.env ?? "-"}</td>
              <td>{human(s.size)}</td>
              <td>{s.items.map((i) => i.id).join(", ")}</td>
              <td className={s.verified === "failed" ? "bad" : ""} title={s.problem ?? ""}>
                {s.verified === "ok" ? `ok, ${age(s.verified_unix ?? s.created_unix)}` : s.verified === "failed" ? "damaged" : "when written"}
              </td>
              <td className="row-actions">
                <button onClick={() => verify(s)} disabled={busy !== null}>
                  Verify
                </button>
                <button data-testid={`restore-${s.id}`} onClick={() => setConfirm({ set: s, only: s.items.map((i) => i.id) })} disabled={busy !== null}>
                  Restore…
                </button>
              </td>
            </tr>
          ))}
          {list?.interrupted.map((i) => (
            <tr key={`${i.op}-${i.what}`} className="warn" data-testid={`interrupted-${i.op}`}>
              <td colSpan={7}>
                <p>
                  {OP_NAME[i.op]} {i.what} was interrupted ({age(i.began_unix)}): {i.state}.
                </p>
                <div className="row-actions">
                  {i.choices.map((c) => (
                    <button
                      key={c.resolution}
                      data-testid={`interrupted-${i.op}-${c.resolution}`}
                      title={c.consequence}
                      onClick={() => settle(i.op, c.resolution)}
                      disabled={busy !== null}
                    >
                      {RESOLUTION_LABEL[c.resolution]}: {c.consequence}
                    </button>
                  ))}
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>

      {settings && (
        <details className="settings">
          <summary>Settings</summary>
          <label>
            Folder <output aria-label="backup folder">{settings.dir}</output>{" "}
            <button data-testid="choose-folder" onClick={chooseFolder} disabled={busy !== null}>
              Choose…
            </button>
          </label>
          <label>
            Keep the newest{" "}
            <input aria-label="keep" type="number" min={1} value={settings.keep} onChange={(e) => setSettings({ ...settings, keep: Number(e.target.value) })} /> sets
          </label>
          <label>
            Delete sets older than{" "}
            <input
              aria-label="max age days"
              type="number"
              min={0}
              value={settings.max_age_days ?? 0}
              onChange={(e) => setSettings({ ...settings, max_age_days: Number(e.target.value) || null })}
            />{" "}
            days (0: never)
          </label>
          <label>
            Keep{" "}
            <input aria-label="keep safety" type="number" min={0} value={settings.keep_safety} onChange={(e) => setSettings({ ...settings, keep_safety: Number(e.target.value) })} /> safety
            sets
          </label>
          <button onClick={saveSettings}>Save</button>
        </details>
      )}
    </section>
  );
}
