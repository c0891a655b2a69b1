import { lazy, Suspense, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { rendered } from "./activity";
import { apiError, errorText, type Backend } from "./backend";
import type { Action } from "./bindings/Action";
import type { HealthCheck } from "./bindings/HealthCheck";
import type { Phase } from "./bindings/Phase";
import type { PlannedChange } from "./bindings/PlannedChange";
import type { Reach } from "./bindings/Reach";
import type { SwitchOptions } from "./bindings/SwitchOptions";
import { Backups } from "./Backups";
import { Diagram, edgeKey, reachText } from "./Diagram";
import { EngineMenu } from "./EngineMenu";
import { StackMenu, type StackChanged } from "./StackMenu";
import { SwarmNodes } from "./Swarm";
import { Inspect } from "./Inspect";
import { LogView } from "./LogView";
import { useOperation } from "./operation";
import { CONDITION_LABEL, nodeStatus, replicasOf, serviceStatus, type Known } from "./state";
import type { Theme } from "./bindings/Theme";
import { pageStart, type Boot } from "./boot";
import { useDrift, useScreen, useStackStore, useTheme } from "./store";
import { engineDownText, forWindow } from "./words";
import { useUsage } from "./usage";

// xterm.js is loaded when a side panel first shows a service, not at launch.
const Terminals = lazy(() => import("./Terminal"));

const CHANGE_LABEL: Record<PlannedChange["change"], string> = {
  kept: "Kept running",
  recreated: "Recreated",
  created: "Created",
  scaled: "Scaled",
  removed: "Removed",
};

/// What a switch will do to each service, grouped: kept running, recreated, created, removed.
function SwitchPlan({ plan, fullRestart }: { plan: PlannedChange[] | null; fullRestart: boolean }) {
  if (plan === null) return <p className="switch-plan muted">Working out what changes…</p>;
  if (fullRestart) return <p className="switch-plan" data-testid="switch-plan">Every service is stopped, then started again.</p>;
  return (
    <dl className="switch-plan" data-testid="switch-plan">
      {(Object.keys(CHANGE_LABEL) as PlannedChange["change"][]).map((c) => {
        const items = plan.filter((p) => p.change === c);
        if (items.length === 0) return null;
        return (
          <div key={c}>
            <dt>{CHANGE_LABEL[c]}</dt>
            <dd>{items.map((p) => (p.reason ? `${p.service} (${p.reason})` : p.service)).join(", ")}</dd>
          </div>
        );
      })}
    </dl>
  );
}

/** How a node names the operation that stopped its container. */
const OPERATION_NAME: Record<string, string> = {
  up: "Up",
  down: "Down",
  switch: "the switch",
  repair: "the repair",
  backup: "the backup",
  verify: "the check",
  restore: "the restore",
  recover: "the recovery",
};

export function App({ backend, boot }: { backend: Backend; boot?: Boot }) {
  rendered("App");
  const [state, dispatch, usage] = useStackStore(backend, boot);
  const op = useOperation();
  const [showLogs, setShowLogs] = useState(false);
  const [showBackups, setShowBackups] = useState(false);
  const [health, setHealth] = useState<HealthCheck[]>([]);
  const [inspectOpen, setInspectOpen] = useState(false);
  // The switch's options as the user set them; unset ones are the core's defaults (a safety
  // backup into prod).
  const [switchOpts, setSwitchOpts] = useState<SwitchOptions>({ backup: null, no_cache: false, no_build: false, rollback: true, full_restart: false });
  // What the switch would do to each service, asked when its menu opens (changes nothing).
  const [switchPlan, setSwitchPlan] = useState<PlannedChange[] | null>(null);
  const { stacks, stack, env, opened, opening, containers, engineDown, drift, selected, notice, theme } = state;
  const view = opened?.view ?? null;
  const busy = op.busy;
  const [backupBusy, setBackupBusy] = useState<string | null>(null);
  const [backupPhases, setBackupPhases] = useState<Record<string, Phase>>({});
  // Containers our probe found ready, by name, with the start it found them ready in.
  const [probed, setProbed] = useState<Record<string, string>>({});
  useDrift(backend, state, dispatch, busy !== null);
  useScreen(backend, selected);
  useTheme(theme);

  const otherEnv = stacks?.stacks.find((s) => s.name === stack)?.envs.find((e) => e !== env) ?? null;
  const backupFirst = switchOpts.backup ?? otherEnv === "prod";
  const ready = view !== null && !view.invalid;
  const canAct = busy === null && ready && engineDown === null;

  // The last connectivity check of each dependency edge (dependent>dependency), checked after
  // every Up and on demand from the side panel.
  const [reach, setReach] = useState<Record<string, Reach>>({});
  // Checks in flight; and which stack they are for (a check of the stack open before is dropped).
  const [checking, setChecking] = useState(0);
  const checksFor = useRef(`${stack}/${env}/${opening}`);
  useEffect(() => {
    checksFor.current = `${stack}/${env}/${opening}`;
    setReach({});
  }, [stack, env, opening]);
  /** Checks the edges out of `service` (all when null); resolves to the dependents of the edges
   * that did not connect. */
  const checkConnections = async (service: string | null): Promise<string[]> => {
    const of = `${stack}/${env}/${opening}`;
    setChecking((n) => n + 1);
    try {
      const checks = await backend.call("stack_connectivity", { stack, env, service });
      if (checksFor.current !== of) return [];
      setReach((r) => ({ ...r, ...Object.fromEntries(checks.map((c) => [edgeKey(c.from, c.to), c.reach])) }));
      return [...new Set(checks.filter((c) => c.reach.kind !== "reachable" && c.reach.kind !== "unchecked").map((c) => c.from))];
    } catch (e) {
      if (checksFor.current === of) dispatch({ type: "error", text: apiError(e).message });
      return [];
    } finally {
      setChecking((n) => n - 1);
    }
  };

  const up = async () => {
    const r = await op.run("up", (onEvent) => backend.call("stack_up", { stack, env, onEvent }));
    if (!r) return;
    // A service is ready by its health check, and may open a port a while later (RabbitMQ
    // answers its ping before it listens for AMQP, up to some 20 s later on a cold machine):
    // what did not connect is checked again, five times at most, 1 s apart then doubling up
    // to 8 s (about 23 s in all).
    let failing = await checkConnections(null);
    for (const wait of [1000, 2000, 4000, 8000, 8000]) {
      if (failing.length === 0) break;
      await new Promise((done) => setTimeout(done, wait));
      const again = await Promise.all(failing.map((f) => checkConnections(f)));
      failing = again.flat();
    }
  };
  const down = async () => {
    await op.run("down", (onEvent) => backend.call("stack_down", { stack, env, onEvent }));
    setReach({});
  };

  const switchTo = async (to: string) => {
    dispatch({ type: "notice", text: null });
    const r = await op.run("switch", (onEvent) => backend.call("stack_switch", { stack, to, options: switchOpts, onEvent }));
    if (!r) return;
    const drifted = r.drift.filter((d) => d.verdict === "drift").map((d) => d.service);
    dispatch({ type: "open", env: to });
    dispatch({
      type: "notice",
      text:
        `Switched from ${r.from ?? "nothing running"} to ${r.to} in ${(r.elapsed_ms / 1000).toFixed(1)}s.` +
        (r.rebuilt_no_cache.length ? ` Rebuilt without cache (target not proven): ${r.rebuilt_no_cache.join(", ")}.` : "") +
        (r.safety ? ` Data backed up first in ${r.safety}.` : "") +
        (drifted.length ? ` Not as ${r.to} asks: ${drifted.join(", ")}.` : " Every container runs what it asks for."),
    });
  };

  const repair = async (service: string) => {
    const r = await op.run("repair", (onEvent) => backend.call("service_repair", { stack, env, service, onEvent }));
    if (r) dispatch({ type: "notice", text: `${service} ${r.rebuilt ? "rebuilt and recreated" : "recreated"}.` });
  };

  const control = (service: string, action: Action) =>
    backend.call("service_control", { stack, env, service, action }).catch((e) => dispatch({ type: "error", text: apiError(e).message }));

  // A stack was added, renamed or removed: the list again, and the stack to open.
  const stacksChanged: StackChanged = async (open) => {
    try {
      dispatch({ type: "stacks", stacks: await backend.call("list_stacks", {}) });
      if (open) dispatch({ type: "open", stack: open.stack, env: open.env });
    } catch (e) {
      dispatch({ type: "error", text: apiError(e).message });
    }
  };

  // Another engine for the stack: remembered by the app, then the stack is opened again on it
  // (its live state, drift and checks from the engine before go, as when another stack opens).
  const chooseEngine = async (engine: string) => {
    try {
      await backend.call("engine_choose", { stack, engine });
      dispatch({ type: "open", stack, env, again: true });
      dispatch({ type: "notice", text: `${stack} is now watched and run on engine ${engine}.` });
    } catch (e) {
      dispatch({ type: "error", text: apiError(e).message });
    }
  };

  const openFile = (file: string, line: number | null) =>
    backend.call("open_file", { stack, env, file, line }).catch((e) => dispatch({ type: "error", text: apiError(e).message }));

  const reload = () =>
    backend
      .call("open_stack", { stack, env })
      .then((opened) => dispatch({ type: "opened", opened }))
      .catch((e) => dispatch({ type: "error", text: apiError(e).message }));

  const chooseTheme = (t: Theme) => {
    dispatch({ type: "theme", theme: t });
    backend.call("set_theme", { theme: t }).catch((e) => dispatch({ type: "error", text: apiError(e).message }));
  };

  const toggleNotify = (enabled: boolean) => {
    dispatch({ type: "notify", enabled });
    backend.call("set_notifications", { stack, enabled }).catch((e) => dispatch({ type: "error", text: apiError(e).message }));
  };

  useEffect(() => {
    if (!selected) return;
    backend
      .call("service_health", { stack, env, service: selected })
      .then(setHealth)
      .catch(() => setHealth([]));
  }, [backend, selected, stack, env, containers]);

  const select = useCallback((service: string | null) => dispatch({ type: "select", service }), [dispatch]);
  const drawn = useCallback(() => void backend.call("window_drawn", { page: pageStart() }).catch(() => {}), [backend]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") select(null);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [select]);

  // A failed Up reports each failed service as an event; other errors are shown as they are.
  const error = op.error && !(op.error.code === "failed" && op.progress.failures.length > 0) ? errorText(op.error) : state.error;
  const current = stacks?.stacks.find((s) => s.name === stack);
  const away = engineDown ? engineDownText(engineDown) : null;
  const planned = Object.keys(containers).length === 0;
  const selectedSvc = view?.services.find((s) => s.name === selected);
  // Phases of the operation in flight (kept afterwards only for what failed or was skipped).
  // (A backup or restore's own, while it runs: the services it stops and starts again.)
  const running = busy ? op.progress.phases : backupBusy ? backupPhases : null;
  const phases = useMemo(
    () => running ?? Object.fromEntries(Object.entries(op.progress.phases).filter(([, p]) => p === "failed" || p === "skipped")),
    [running, op.progress.phases],
  );
  // A service the core says is ready is ready on its node too, before Docker's own health check
  // has run (its status stays a detail): the containers running when its phase turns ready.
  // (The live state of a container may come a moment after its phase: a service waits until
  // it shows running.)
  const wasReady = useRef(new Set<string>());
  const pending = useRef(new Set<string>());
  useEffect(() => {
    const now = new Set([...Object.entries(op.progress.phases), ...Object.entries(backupPhases)].filter(([, p]) => p === "ready").map(([s]) => s));
    for (const s of now) if (!wasReady.current.has(s)) pending.current.add(s);
    wasReady.current = now;
    const found = [...pending.current].flatMap((service) => replicasOf(containers, service).filter((c) => c.state === "running"));
    for (const c of found) pending.current.delete(c.service);
    if (found.length) setProbed((p) => ({ ...p, ...Object.fromEntries(found.map((c) => [c.name, c.started_at ?? ""])) }));
  }, [op.progress.phases, backupPhases, containers]);
  useEffect(() => {
    setProbed({});
    setBackupPhases({});
    pending.current.clear();
  }, [stack, env, opening]);
  const operation = busy ?? backupBusy;
  // A banner belongs to what raised it: an operation that starts clears the one before.
  useEffect(() => {
    if (operation) dispatch({ type: "notice", text: null });
  }, [operation, dispatch]);
  // While an operation runs, the containers it stops are stopped for it, not crashed (the engine's
  // die may come before the operation's own phase for it).
  const known: Known = useMemo(() => ({ probed, operation: operation ? (OPERATION_NAME[operation] ?? operation) : null }), [probed, operation]);
  const selectedInfo = selectedSvc ? serviceStatus(selectedSvc, containers, phases[selectedSvc.name], known) : undefined;
  const selectedContainer = selectedInfo?.container;
  const selectedReplicas = selectedSvc ? replicasOf(containers, selectedSvc.name) : [];
  const selectedUsage = useUsage(usage, selectedContainer?.name);

  return (
    <div className="app">
      <header className="toolbar" role="toolbar" aria-label="Stack">
        <strong className="brand">Sirius Deck</strong>
        <label title="Stack">
          <select aria-label="stack" value={stack} onChange={(e) => dispatch({ type: "open", stack: e.target.value, env: stacks?.stacks.find((s) => s.name === e.target.value)?.default_env })} disabled={busy !== null}>
            {stacks?.stacks.map((s) => (
              <option key={s.name} value={s.name} disabled={s.invalid !== null}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <StackMenu backend={backend} current={current} disabled={busy !== null} onChanged={stacksChanged} />
        <label title="Environment">
          <select aria-label="environment" value={env} onChange={(e) => dispatch({ type: "open", env: e.target.value })} disabled={busy !== null}>
            {current?.envs.map((e) => (
              <option key={e} value={e}>
                {e}
              </option>
            ))}
          </select>
        </label>
        <button data-testid="up" accessKey="u" title="Up (Alt+U)" onClick={up} disabled={!canAct}>
          {busy === "up" ? "Starting…" : "Up"}
        </button>
        <button data-testid="down" accessKey="d" title="Down (Alt+D)" onClick={down} disabled={!canAct}>
          {busy === "down" ? "Stopping…" : "Down"}
        </button>
        {otherEnv && (
          <button
            data-testid="switch"
            accessKey="s"
            title={`Switch the running stack to ${otherEnv}: checked first, ${backupFirst ? "data backed up first, " : ""}rolled back if it does not come up (Alt+S)`}
            onClick={() => switchTo(otherEnv)}
            disabled={!canAct}
          >
            {busy === "switch" ? `Switching to ${otherEnv}…` : `Switch to ${otherEnv}`}
          </button>
        )}
        {otherEnv && (
          <details
            className="switch-options"
            onToggle={(e) => {
              if (!(e.currentTarget as HTMLDetailsElement).open) return;
              setSwitchPlan(null);
              backend.call("stack_switch_plan", { stack, to: otherEnv, options: switchOpts }).then(setSwitchPlan, () => setSwitchPlan([]));
            }}
          >
            <summary title="Options of the switch, and what it will do">⋯</summary>
            <div className="switch-menu">
              <label>
                <input type="checkbox" data-testid="switch-backup" checked={backupFirst} onChange={(e) => setSwitchOpts((o) => ({ ...o, backup: e.target.checked }))} /> Back up the data first
              </label>
              <label>
                <input type="checkbox" data-testid="switch-no-cache" checked={switchOpts.no_cache} onChange={(e) => setSwitchOpts((o) => ({ ...o, no_cache: e.target.checked, no_build: false }))} /> Rebuild every image without cache
              </label>
              <label title="Use the images there are; refused before anything changes when one is missing or not proven to come from the right target">
                <input type="checkbox" data-testid="switch-no-build" checked={switchOpts.no_build} onChange={(e) => setSwitchOpts((o) => ({ ...o, no_build: e.target.checked, no_cache: false }))} /> Build nothing
              </label>
              <label title="Stop the whole old environment and start the new one, instead of keeping the services that are the same in both running">
                <input type="checkbox" data-testid="switch-full-restart" checked={switchOpts.full_restart} onChange={(e) => setSwitchOpts((o) => ({ ...o, full_restart: e.target.checked }))} /> Full restart
              </label>
              <SwitchPlan plan={switchPlan} fullRestart={switchOpts.full_restart} />
            </div>
          </details>
        )}
        <button data-testid="logs" accessKey="l" title="Logs of the whole stack (Alt+L)" aria-pressed={showLogs} onClick={() => setShowLogs((v) => !v)} disabled={!ready}>
          Logs
        </button>
        <button data-testid="backups" accessKey="b" title="Back up and restore the stack's data (Alt+B)" aria-pressed={showBackups} onClick={() => setShowBackups((v) => !v)} disabled={!ready}>
          Backups
        </button>
        {/* The compose project's name, when it is not the stack's; then the engine, at the
            right end (the toolbar keeps to one row in a 1024-pixel window). */}
        <span className="project" title={`Compose project ${view?.project ?? ""}`}>
          {view?.project !== stack ? view?.project : null}
        </span>
        <EngineMenu backend={backend} engine={opened?.engine ?? null} disabled={operation !== null || !stack} onChoose={chooseEngine} />
        <details className="menu settings-menu">
          <summary title="Settings" aria-label="Settings">
            ⚙
          </summary>
          <div className="menu-body">
            <label title="Desktop notifications when a service of this stack fails, recovers or is stopped from outside">
              <input type="checkbox" data-testid="notifications" checked={opened?.notifications ?? true} onChange={(e) => toggleNotify(e.target.checked)} /> Notifications for this stack
            </label>
            <label>
              Theme{" "}
              <select data-testid="theme" aria-label="theme" value={theme} onChange={(e) => chooseTheme(e.target.value as Theme)}>
                <option value="system">as the system</option>
                <option value="light">light</option>
                <option value="dark">dark</option>
              </select>
            </label>
          </div>
        </details>
      </header>

      {away && (
        <div className="banner banner-error" role="alert" data-testid="engine-down">
          {away.message}
          <details>
            <summary>Details</summary>
            <code>{away.detail}</code>
          </details>
        </div>
      )}
      {notice && !error && (
        <div className="banner banner-ok" role="status" data-testid="notice">
          {notice}
          <button className="log-close" aria-label="dismiss" onClick={() => dispatch({ type: "notice", text: null })}>
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
          <p>
            The compose files of {view.stack} ({view.env}) have errors; nothing can start until they are fixed:
          </p>
          <ul>
            {view.diagnostics.map((d, i) => (
              <li key={i} data-testid="diagnostic">
                <code>
                  {d.file}
                  {d.line ? `:${d.line}` : ""}
                </code>{" "}
                {d.key && <code>{d.key}</code>} {d.message}{" "}
                {d.file && (
                  <button className="small" data-testid="open-file" onClick={() => openFile(d.file as string, d.line)}>
                    Open in editor
                  </button>
                )}
              </li>
            ))}
          </ul>
          <p className="muted">
            Saving the file redraws the diagram by itself.{" "}
            <button className="small" data-testid="reload" onClick={reload}>
              Reload
            </button>
          </p>
        </div>
      )}
      {op.progress.failures.length > 0 && (
        <div className="banner banner-error" role="alert" data-testid="failures">
          {op.progress.failures.map((f) => (
            <div key={f.service} className="failure">
              <strong>{f.service}</strong>: {forWindow(f.reason)}
              {f.health_output.length > 0 && <pre title="last health check output">{f.health_output.join("\n")}</pre>}
              {f.logs.length > 0 && <pre title="last log lines">{f.logs.join("\n")}</pre>}
            </div>
          ))}
        </div>
      )}

      <main className="main">
        {view && ready && (
          <div className="diagram-column">
            <Diagram services={view.services} containers={containers} progress={phases} known={known} usage={usage} drift={drift} selected={selected} planned={planned && busy === null} onSelect={select} onDrawn={drawn} reach={reach} />
            {state.swarm && <SwarmNodes state={state.swarm} services={view.services} usage={usage} />}
          </div>
        )}
        {showBackups && ready && <Backups backend={backend} stack={stack} env={env} onClose={() => setShowBackups(false)} onBusy={setBackupBusy} onPhases={setBackupPhases} />}
        {selectedSvc && !showBackups && (
          <aside className="panel" data-testid="panel" aria-label={`service ${selectedSvc.name}`}>
            <div className="panel-head">
              <h2>{selectedSvc.name}</h2>
              <button aria-label="close" onClick={() => select(null)}>
                ×
              </button>
            </div>
            <dl>
              <dt>State</dt>
              <dd data-testid="panel-state">{selectedInfo?.label}</dd>
              {(selectedSvc.replicas > 1 || selectedReplicas.length > 1) && (
                <>
                  <dt>Replicas</dt>
                  <dd data-testid="panel-replicas">
                    <ul className="replicas">
                      {selectedReplicas.map((c) => (
                        <li key={c.name}>
                          {c.name}: {nodeStatus(selectedSvc, c, undefined, known).label}
                        </li>
                      ))}
                    </ul>
                  </dd>
                </>
              )}
              <dt>Image</dt>
              <dd>{selectedContainer?.image ?? selectedSvc.image ?? "-"}</dd>
              <dt>Build target</dt>
              <dd>{selectedContainer?.build_target ?? selectedSvc.build_target ?? "-"}</dd>
              <dt>Ports</dt>
              <dd>{selectedSvc.ports.join(", ") || "-"}</dd>
              <dt>Limits</dt>
              <dd>
                {selectedSvc.memory_limit ? `${Math.round(selectedSvc.memory_limit / 1048576)} MiB` : "no memory limit"}, {selectedSvc.cpu_limit ? `${selectedSvc.cpu_limit} CPU` : "no CPU limit"}
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
              <dd>{selectedContainer?.restart_count ?? "-"}</dd>
              <dt>Depends on</dt>
              <dd>{selectedSvc.depends_on.map((d) => `${d.target} (${CONDITION_LABEL[d.condition]})`).join(", ") || "-"}</dd>
            </dl>
            {/* Each action only where it applies: Start what is stopped, Stop and Restart what runs. */}
            <div className="actions">
              <button
                data-testid="action-start"
                onClick={() => control(selectedSvc.name, "start")}
                disabled={operation !== null || selectedReplicas.length === 0 || selectedReplicas.every((c) => c.state === "running")}
                title={selectedReplicas.length === 0 ? "Not created yet: use Up" : undefined}
              >
                Start
              </button>
              <button data-testid="action-stop" onClick={() => control(selectedSvc.name, "stop")} disabled={operation !== null || !selectedReplicas.some((c) => c.state === "running")}>
                Stop
              </button>
              <button data-testid="action-restart" onClick={() => control(selectedSvc.name, "restart")} disabled={operation !== null || selectedReplicas.length === 0}>
                Restart
              </button>
            </div>
            {selectedSvc.depends_on.length > 0 && (
              <>
                <h3>Connections</h3>
                <ul className="connections" data-testid="connections">
                  {selectedSvc.depends_on.map((d) => {
                    const r = reach[edgeKey(selectedSvc.name, d.target)];
                    return (
                      <li key={d.target} data-testid={`connection-${d.target}`} data-reach={r?.kind ?? "none"} className={r && r.kind !== "unchecked" ? undefined : "muted"}>
                        {d.target}: {r ? reachText(r) : "not checked yet"}
                      </li>
                    );
                  })}
                </ul>
                <button data-testid="check-connections" onClick={() => checkConnections(selectedSvc.name)} disabled={checking > 0 || !selectedReplicas.some((c) => c.state === "running")}>
                  {checking > 0 ? "Checking…" : "Check connections"}
                </button>
              </>
            )}
            <h3>Shell</h3>
            <Suspense fallback={<p className="muted">Loading…</p>}>
              <Terminals key={selectedSvc.name} backend={backend} stack={stack} env={env} service={selectedSvc.name} running={selectedReplicas.some((c) => c.state === "running")} />
            </Suspense>
            {selectedContainer?.state === "running" ? (
              selectedUsage && (
                <>
                  <h3>Resource use (last minute{selectedReplicas.length > 1 ? `, ${selectedContainer.name}` : ""})</h3>
                  <Chart label="CPU %" values={selectedUsage.cpu} limit={selectedSvc.cpu_limit ? selectedSvc.cpu_limit * 100 : null} />
                  <Chart label="Memory" values={selectedUsage.memory} limit={selectedSvc.memory_limit} bytes />
                </>
              )
            ) : (
              <p className="muted" data-testid="no-usage">
                Not running: no resource use.
              </p>
            )}
            <h3>Last health checks</h3>
            <pre className="health" data-testid="health">
              {health.length ? health.map(healthLine).join("\n") : "none recorded"}
            </pre>
            <details className="inspect-box" onToggle={(e) => setInspectOpen((e.currentTarget as HTMLDetailsElement).open)}>
              <summary data-testid="inspect-toggle">Inspect</summary>
              {inspectOpen && (
                <Inspect backend={backend} stack={stack} env={env} service={selectedSvc.name} revision={`${selectedContainer?.id ?? ""}:${selectedContainer?.started_at ?? ""}`} />
              )}
            </details>
            <h3>Logs</h3>
            <LogView backend={backend} stack={stack} env={env} services={[selectedSvc.name]} height={220} />
          </aside>
        )}
      </main>

      {showLogs && ready && (
        <section className="stacklogs" aria-label="logs of the stack">
          <LogView backend={backend} stack={stack} env={env} services={[]} known={view.services.map((s) => s.name)} height={240} />
        </section>
      )}

      {op.progress.lines.length > 0 && <ProgressLog lines={op.progress.lines} onClose={busy === null ? op.clear : undefined} />}
    </div>
  );
}

/** A run of a health check as a line: its local time, whether it passed, what it printed. */
export function healthLine(h: HealthCheck): string {
  const time = h.started ? new Date(h.started).toLocaleTimeString() : "--:--:--";
  const verdict = h.exit_code === 0 ? "passed" : h.exit_code === null ? "did not finish" : `failed (exit ${h.exit_code})`;
  return `${h.container ? `${h.container} ` : ""}${time} ${verdict}${h.output ? `: ${h.output}` : ""}`;
}

/** The progress of the operation, newest line in view (unless the user scrolled up to read). */
function ProgressLog({ lines, onClose }: { lines: string[]; onClose?: () => void }) {
  const box = useRef<HTMLElement>(null);
  const following = useRef(true);
  useLayoutEffect(() => {
    const el = box.current;
    if (el && following.current) el.scrollTop = el.scrollHeight;
  }, [lines]);
  return (
    <section
      className="log"
      aria-label="progress"
      data-testid="progress-log"
      ref={box}
      onScroll={(e) => {
        const el = e.currentTarget;
        following.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
      }}
    >
      {onClose && (
        <button className="log-close" aria-label="close the progress log" onClick={onClose}>
          ×
        </button>
      )}
      <pre>{lines.join("\n")}</pre>
    </section>
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
