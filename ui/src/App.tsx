import { useCallback, useEffect, useRef, useState } from "react";
import { apiError, type Backend } from "./backend";
import type { DriftDto } from "./bindings/DriftDto";
import type { ProgressEvent } from "./bindings/ProgressEvent";
import type { ServiceAction } from "./bindings/ServiceAction";
import type { StackView } from "./bindings/StackView";
import type { Stacks } from "./bindings/Stacks";
import type { UsageEvent } from "./bindings/UsageEvent";
import { Backups } from "./Backups";
import { Diagram } from "./Diagram";
import { LogView } from "./LogView";
import { addSample, applyState, nodeStatus, type Containers, type UsageHistory } from "./state";

const USAGE_REDRAW_MS = 2000;

type Failure = Extract<ProgressEvent, { event: "failure" }>["payload"];

export function App({ backend }: { backend: Backend }) {
  const [stacks, setStacks] = useState<Stacks | null>(null);
  const [stack, setStack] = useState("");
  const [env, setEnv] = useState("");
  const [view, setView] = useState<StackView | null>(null);
  const [containers, setContainers] = useState<Containers>({});
  const [engineDown, setEngineDown] = useState<string | null>(null);
  const [progress, setProgress] = useState<Record<string, string>>({});
  const [log, setLog] = useState<string[]>([]);
  const [busy, setBusy] = useState<"up" | "down" | "switch" | "repair" | null>(null);
  const [drift, setDrift] = useState<Record<string, DriftDto>>({});
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [failures, setFailures] = useState<Failure[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [health, setHealth] = useState<string[]>([]);
  const [notify, setNotify] = useState(true);
  const [usage, setUsage] = useState<Record<string, UsageHistory>>({});
  const [showLogs, setShowLogs] = useState(false);
  const [showBackups, setShowBackups] = useState(false);
  const stackRef = useRef("");

  useEffect(() => {
    backend
      .listStacks()
      .then((s) => {
        setStacks(s);
        setStack(s.openStack);
        setEnv(s.openEnv);
      })
      .catch((e) => setError(apiError(e).message));
  }, [backend]);

  useEffect(() => {
    let stop: (() => void) | undefined;
    backend.onState((e) => {
      if (e.stack !== stackRef.current) return;
      if (e.kind === "engineDown") {
        setEngineDown(e.reason);
        return;
      }
      setEngineDown(null);
      setContainers((c) => applyState(c, e, stackRef.current));
    }).then((f) => (stop = f));
    return () => stop?.();
  }, [backend]);

  useEffect(() => {
    if (!stack || !env) return;
    stackRef.current = stack;
    setContainers({});
    setUsage({});
    setSelected(null);
    setFailures([]);
    backend
      .openStack(stack, env)
      .then((v) => {
        setView(v);
        setNotify(v.notifications);
        setError(null);
      })
      .catch((e) => setError(apiError(e).message));
  }, [backend, stack, env]);

  useEffect(() => {
    let stop: (() => void) | undefined;
    // Samples arrive about once a second per service; the window redraws with them every
    // two seconds, which keeps an idle window idle.
    let pending: UsageEvent[] = [];
    const flush = setInterval(() => {
      if (pending.length === 0) return;
      const batch = pending;
      pending = [];
      setUsage((u) => {
        const next = { ...u };
        for (const e of batch) next[e.service] = addSample(next[e.service], e.cpuPercent, e.memoryBytes);
        return next;
      });
    }, USAGE_REDRAW_MS);
    backend.onUsage((e) => {
      if (e.stack === stackRef.current) pending.push(e);
    }).then((f) => (stop = f));
    return () => {
      clearInterval(flush);
      stop?.();
    };
  }, [backend]);

  useEffect(() => {
    let stop: (() => void) | undefined;
    backend.onFocus((e) => {
      if (e.stack === stackRef.current) setSelected(e.service);
    }).then((f) => (stop = f));
    return () => stop?.();
  }, [backend]);

  const toggleNotify = async (enabled: boolean) => {
    setNotify(enabled);
    try {
      await backend.setNotifications(stack, enabled);
    } catch (e) {
      setError(apiError(e).message);
    }
  };

  const onProgress = useCallback((e: ProgressEvent) => {
    switch (e.event) {
      case "service":
        setProgress((p) => ({ ...p, [e.payload.service]: e.payload.phase }));
        setLog((l) => [...l.slice(-499), `${(e.payload.elapsedMs / 1000).toFixed(1)}s  ${e.payload.service}  ${e.payload.phase.replace("_", " ")}${e.payload.detail ? "  " + e.payload.detail : ""}`]);
        break;
      case "output":
        setLog((l) => [...l.slice(-499), `   ${e.payload.service} │ ${e.payload.line}`]);
        break;
      case "resource":
        setLog((l) => [...l.slice(-499), `   ${e.payload.kind} ${e.payload.name} ${e.payload.action}`]);
        break;
      case "failure":
        setFailures((f) => [...f, e.payload]);
        break;
      case "step":
        setLog((l) => [...l.slice(-499), `── ${e.payload.message}`]);
        break;
    }
  }, []);

  const run = useCallback(
    async (which: "up" | "down") => {
      if (busy || !view || view.invalid) return;
      setBusy(which);
      setProgress({});
      setFailures([]);
      setError(null);
      setLog([]);
      try {
        await (which === "up" ? backend.up(stack, env, onProgress) : backend.down(stack, env, onProgress));
      } catch (e) {
        const err = apiError(e);
        // A failure report arrives as events; other errors are shown as they are.
        if (err.code !== "failed") setError(err.message);
      } finally {
        setBusy(null);
        setProgress((p) => Object.fromEntries(Object.entries(p).filter(([, phase]) => phase === "failed" || phase === "skipped")));
      }
    },
    [backend, busy, env, onProgress, stack, view],
  );

  // What runs against what the environment asks for: checked again shortly after the live
  // state changes (containers recreated, started, removed).
  useEffect(() => {
    if (!stack || !env || !view || view.invalid || busy !== null) return;
    const t = setTimeout(() => {
      backend
        .drift(stack, env)
        .then((d) => setDrift(Object.fromEntries(d.map((x) => [x.service, x]))))
        .catch(() => setDrift({}));
    }, 800);
    return () => clearTimeout(t);
  }, [backend, stack, env, view, containers, busy]);

  const otherEnv = stacks?.stacks.find((s) => s.name === stack)?.envs.find((e) => e !== env) ?? null;
  // A safety backup first is the default into prod; rebuilding without cache is asked for.
  const [switchOpts, setSwitchOpts] = useState<{ backup: boolean | null; noCache: boolean }>({ backup: null, noCache: false });
  const backupFirst = switchOpts.backup ?? otherEnv === "prod";

  const switchTo = useCallback(
    async (to: string) => {
      if (busy || !view || view.invalid) return;
      setBusy("switch");
      setProgress({});
      setFailures([]);
      setError(null);
      setNotice(null);
      setLog([]);
      try {
        const r = await backend.switchEnv(stack, to, { backup: backupFirst, noCache: switchOpts.noCache }, onProgress);
        const drifted = r.drift.filter((d) => d.verdict === "drift").map((d) => d.service);
        setNotice(
          `Switched from ${r.from ?? "nothing running"} to ${r.to} in ${(r.elapsedMs / 1000).toFixed(1)}s.` +
            (r.rebuiltNoCache.length ? ` Rebuilt without cache (target not proven): ${r.rebuiltNoCache.join(", ")}.` : "") +
            (r.safety ? ` Data backed up first in ${r.safety}.` : "") +
            (drifted.length ? ` Not as ${r.to} asks: ${drifted.join(", ")}.` : " Every container runs what it asks for."),
        );
        setEnv(to);
      } catch (e) {
        setError(apiError(e).message);
      } finally {
        setBusy(null);
        setProgress({});
      }
    },
    [backend, backupFirst, busy, onProgress, stack, switchOpts.noCache, view],
  );

  const repair = async (service: string) => {
    setBusy("repair");
    setError(null);
    setLog([]);
    try {
      await backend.repair(stack, env, service, onProgress);
      setNotice(`${service} rebuilt and recreated.`);
    } catch (e) {
      setError(apiError(e).message);
    } finally {
      setBusy(null);
      setProgress({});
    }
  };

  const control = async (service: string, action: ServiceAction) => {
    try {
      await backend.control(stack, env, service, action);
    } catch (e) {
      setError(apiError(e).message);
    }
  };

  useEffect(() => {
    if (!selected) return;
    backend.health(stack, env, selected).then(setHealth).catch(() => setHealth([]));
  }, [backend, selected, stack, env, containers]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") setSelected(null);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const current = stacks?.stacks.find((s) => s.name === stack);
  const planned = Object.keys(containers).length === 0;
  const selectedSvc = view?.services.find((s) => s.name === selected);
  const selectedContainer = selected ? containers[selected] : undefined;

  return (
    <div className="app">
      <header className="toolbar" role="toolbar" aria-label="Stack">
        <strong className="brand">Sirius Deck</strong>
        <label>
          Stack{" "}
          <select aria-label="stack" value={stack} onChange={(e) => setStack(e.target.value)} disabled={busy !== null}>
            {stacks?.stacks.map((s) => (
              <option key={s.name} value={s.name}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Environment{" "}
          <select aria-label="environment" value={env} onChange={(e) => setEnv(e.target.value)} disabled={busy !== null}>
            {current?.envs.map((e) => (
              <option key={e} value={e}>
                {e}
              </option>
            ))}
          </select>
        </label>
        <button data-testid="up" accessKey="u" title="Up (Alt+U)" onClick={() => run("up")} disabled={busy !== null || !view || view.invalid || engineDown !== null}>
          {busy === "up" ? "Starting…" : "Up"}
        </button>
        <button data-testid="down" accessKey="d" title="Down (Alt+D)" onClick={() => run("down")} disabled={busy !== null || !view || view.invalid || engineDown !== null}>
          {busy === "down" ? "Stopping…" : "Down"}
        </button>
        {otherEnv && (
          <button
            data-testid="switch"
            accessKey="s"
            title={`Switch the running stack to ${otherEnv}: checked first, ${otherEnv === "prod" ? "data backed up first, " : ""}rolled back if it does not come up (Alt+S)`}
            onClick={() => switchTo(otherEnv)}
            disabled={busy !== null || !view || view.invalid || engineDown !== null}
          >
            {busy === "switch" ? `Switching to ${otherEnv}…` : `Switch to ${otherEnv}`}
          </button>
        )}
        {otherEnv && (
          <details className="switch-options">
            <summary title="Options of the switch">⋯</summary>
            <div className="switch-menu">
            <label>
              <input type="checkbox" data-testid="switch-backup" checked={backupFirst} onChange={(e) => setSwitchOpts((o) => ({ ...o, backup: e.target.checked }))} /> Back up the data first
            </label>
            <label>
              <input type="checkbox" data-testid="switch-no-cache" checked={switchOpts.noCache} onChange={(e) => setSwitchOpts((o) => ({ ...o, noCache: e.target.checked }))} /> Rebuild every image without cache
            </label>
            </div>
          </details>
        )}
        <button data-testid="logs" accessKey="l" title="Logs of the whole stack (Alt+L)" aria-pressed={showLogs} onClick={() => setShowLogs((v) => !v)} disabled={!view || view.invalid}>
          Logs
        </button>
        <button data-testid="backups" accessKey="b" title="Back up and restore the stack's data (Alt+B)" aria-pressed={showBackups} onClick={() => setShowBackups((v) => !v)} disabled={!view || view.invalid}>
          Backups
        </button>
        <label title="Desktop notifications when a service of this stack fails or recovers">
          <input type="checkbox" data-testid="notifications" checked={notify} onChange={(e) => toggleNotify(e.target.checked)} /> Notifications
        </label>
        <span className="project">{view?.project}</span>
      </header>

      {engineDown && (
        <div className="banner banner-error" role="alert" data-testid="engine-down">
          The Docker engine cannot be reached: {engineDown}. Retrying… Start dockerd (or Docker), and this clears by itself.
        </div>
      )}
      {notice && (
        <div className="banner banner-ok" role="status" data-testid="notice">
          {notice}
          <button className="log-close" aria-label="dismiss" onClick={() => setNotice(null)}>
            ×
          </button>
        </div>
      )}
      {error && (
        <div className="banner banner-error" role="alert" data-testid="error">
          <pre>{error}</pre>
        </div>
      )}
      {view?.invalid && (
        <div className="banner banner-error" role="alert" data-testid="invalid">
          <p>The compose files of {view.stack} ({view.env}) have errors; nothing can start until they are fixed:</p>
          <ul>
            {view.diagnostics.map((d, i) => (
              <li key={i}>
                <code>
                  {d.file}
                  {d.line ? `:${d.line}` : ""}
                </code>{" "}
                {d.key && <code>{d.key}</code>} {d.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      {failures.length > 0 && (
        <div className="banner banner-error" role="alert" data-testid="failures">
          {failures.map((f) => (
            <div key={f.service} className="failure">
              <strong>{f.service}</strong>: {f.reason}
              {f.healthOutput.length > 0 && <pre title="last health check output">{f.healthOutput.join("\n")}</pre>}
              {f.logs.length > 0 && <pre title="last log lines">{f.logs.join("\n")}</pre>}
            </div>
          ))}
        </div>
      )}

      <main className="main">
        {view && !view.invalid && (
          <Diagram services={view.services} containers={containers} progress={progress} usage={usage} drift={drift} selected={selected} planned={planned && busy === null} onSelect={setSelected} />
        )}
        {showBackups && view && !view.invalid && <Backups backend={backend} stack={stack} env={env} onClose={() => setShowBackups(false)} />}
        {selectedSvc && !showBackups && (
          <aside className="panel" data-testid="panel" aria-label={`service ${selectedSvc.name}`}>
            <div className="panel-head">
              <h2>{selectedSvc.name}</h2>
              <button aria-label="close" onClick={() => setSelected(null)}>
                ×
              </button>
            </div>
            <dl>
              <dt>State</dt>
              <dd data-testid="panel-state">{nodeStatus(selectedSvc, selectedContainer, progress[selectedSvc.name]).label}</dd>
              <dt>Image</dt>
              <dd>{selectedContainer?.image ?? selectedSvc.image ?? "-"}</dd>
              <dt>Build target</dt>
              <dd>{selectedContainer?.buildTarget ?? selectedSvc.buildTarget ?? "-"}</dd>
              <dt>Ports</dt>
              <dd>{selectedSvc.ports.join(", ") || "-"}</dd>
              <dt>Limits</dt>
              <dd>
                {selectedSvc.memoryLimit ? `${Math.round(selectedSvc.memoryLimit / 1048576)} MiB` : "no memory limit"},{" "}
                {selectedSvc.cpuLimit ? `${selectedSvc.cpuLimit} CPU` : "no CPU limit"}
              </dd>
              <dt>As asked</dt>
              <dd data-testid="panel-drift">
                {(() => {
                  const d = drift[selectedSvc.name];
                  if (!d || d.verdict === "absent") return "-";
                  if (d.verdict === "match") return `yes: ${d.findings.map((f) => f.check).join(", ")} checked`;
                  return (
                    <>
                      <span className={d.verdict === "drift" ? "bad" : "muted"}>{d.verdict === "drift" ? "NO" : "unproven"}</span>
                      <ul className="findings">
                        {d.findings
                          .filter((f) => f.ok !== true)
                          .map((f) => (
                            <li key={f.check}>
                              {f.check}: {f.message}
                            </li>
                          ))}
                      </ul>
                      {d.fix && (
                        <button data-testid="action-repair" onClick={() => repair(selectedSvc.name)} disabled={busy !== null}>
                          {d.fix === "rebuild" ? "Rebuild without cache & recreate" : "Recreate"}
                        </button>
                      )}
                    </>
                  );
                })()}
              </dd>
              <dt>Restarts</dt>
              <dd>{selectedContainer?.restartCount ?? "-"}</dd>
              <dt>Depends on</dt>
              <dd>{selectedSvc.dependsOn.map((d) => `${d.target} (${d.condition})`).join(", ") || "-"}</dd>
            </dl>
            <div className="actions">
              <button data-testid="action-start" onClick={() => control(selectedSvc.name, "start")}>Start</button>
              <button data-testid="action-stop" onClick={() => control(selectedSvc.name, "stop")}>Stop</button>
              <button data-testid="action-restart" onClick={() => control(selectedSvc.name, "restart")}>Restart</button>
            </div>
            {usage[selectedSvc.name] && (
              <>
                <h3>Resource use (last minute)</h3>
                <Chart label="CPU %" values={usage[selectedSvc.name].cpu} limit={selectedSvc.cpuLimit ? selectedSvc.cpuLimit * 100 : null} />
                <Chart label="Memory" values={usage[selectedSvc.name].memory} limit={selectedSvc.memoryLimit} bytes />
              </>
            )}
            <h3>Last health checks</h3>
            <pre className="health">{health.length ? health.join("\n") : "none recorded"}</pre>
            <h3>Logs</h3>
            <LogView backend={backend} stack={stack} env={env} services={[selectedSvc.name]} height={220} />
          </aside>
        )}
      </main>

      {showLogs && view && !view.invalid && (
        <section className="stacklogs" aria-label="logs of the stack">
          <LogView backend={backend} stack={stack} env={env} services={[]} height={240} />
        </section>
      )}

      {log.length > 0 && (
        <section className="log" aria-label="progress" data-testid="progress-log">
          {busy === null && (
            <button className="log-close" aria-label="close the progress log" onClick={() => setLog([])}>
              ×
            </button>
          )}
          <pre>{log.join("\n")}</pre>
        </section>
      )}
    </div>
  );
}

/** A small line chart of recent samples against the limit (the top of the chart when set). */
function Chart({ label, values, limit, bytes }: { label: string; values: number[]; limit: number | null; bytes?: boolean }) {
  const w = 300;
  const h = 60;
  const top = Math.max(limit ?? 0, ...values, 1);
  const points = values.map((v, i) => `${(i / Math.max(1, values.length - 1)) * w},${h - (v / top) * h}`).join(" ");
  const last = values.at(-1) ?? 0;
  const fmt = (v: number) => (bytes ? `${Math.round(v / 1048576)} MiB` : `${v.toFixed(1)}%`);
  return (
    <figure className="chart" data-testid={`chart-${label.split(" ")[0].toLowerCase()}`}>
      <figcaption>
        {label}: {fmt(last)}
        {limit ? ` of ${fmt(limit)}` : " (no limit)"}
      </figcaption>
      <svg width={w} height={h} viewBox={`0 0 ${w} ${h}`} role="img" aria-label={`${label} history`}>
        {limit && <line x1={0} x2={w} y1={h - (limit / top) * h} y2={h - (limit / top) * h} className="chart-limit" />}
        <polyline points={points} className="chart-line" />
      </svg>
    </figure>
  );
}
