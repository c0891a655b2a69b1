// Shells in a service's container, in the side panel: each an xterm.js terminal over an exec
// with a TTY in the core, its output streamed over a channel, its size following the pane.
// Several can be open at once (tabs); each ends when its tab is closed, when the panel closes
// (the component unmounts), or by itself (`exit`).
import { FitAddon } from "@xterm/addon-fit";
import { Terminal as XTerm } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { useEffect, useRef, useState } from "react";
import { apiError, type Backend } from "./backend";

/** One shell's view: the terminal drawn in `host`, the session opened once it has a size. */
function Shell({ backend, stack, env, service, n, visible, onEnded }: { backend: Backend; stack: string; env: string; service: string; n: number; visible: boolean; onEnded: (why: string | null) => void }) {
  const host = useRef<HTMLDivElement>(null);
  const ended = useRef(onEnded);
  ended.current = onEnded;

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const term = new XTerm({
      fontSize: 13,
      fontFamily: "ui-monospace, 'DejaVu Sans Mono', monospace",
      theme: { background: "#14161a", foreground: "#e6e6e6", cursor: "#e6e6e6" },
      scrollback: 2000,
      convertEol: false,
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    // The terminal object on its element: end-to-end tests read what it shows from its buffer.
    (el as HTMLDivElement & { term?: XTerm }).term = term;
    let id: number | null = null;
    let closed = false;
    const size = () => ({ cols: term.cols, rows: term.rows });
    fit.fit();
    backend
      .call("terminal_open", {
        stack,
        env,
        service,
        size: size(),
        onOutput: (m) => {
          if (m.kind === "data") term.write(m.text);
          else if (!closed) ended.current(null);
        },
      })
      .then((opened) => {
        if (closed) void backend.call("terminal_close", { id: opened });
        else {
          id = opened;
          term.focus();
        }
      })
      .catch((e) => ended.current(apiError(e).message));
    // Keystrokes go one after the other: each waits for the one before (commands may run
    // concurrently in the app, and a fast typist's keys would arrive out of order).
    let sent: Promise<unknown> = Promise.resolve();
    const typed = term.onData((data) => {
      const shell = id;
      if (shell === null) return;
      sent = sent.then(() => backend.call("terminal_input", { id: shell, data }).catch(() => {}));
    });
    // The pane's size decides the terminal's: fitted, then told to the shell's TTY.
    const observer = new ResizeObserver(() => {
      if (el.clientWidth === 0 || el.clientHeight === 0) return;
      const before = size();
      fit.fit();
      if (id !== null && (before.cols !== term.cols || before.rows !== term.rows)) {
        backend.call("terminal_resize", { id, size: size() }).catch(() => {});
      }
    });
    observer.observe(el);
    return () => {
      closed = true;
      observer.disconnect();
      typed.dispose();
      if (id !== null) void backend.call("terminal_close", { id }).catch(() => {});
      term.dispose();
    };
  }, [backend, stack, env, service]);

  return <div className="terminal" ref={host} hidden={!visible} data-testid={`terminal-screen-${n}`} />;
}

type Tab = { key: number; ended: boolean; error: string | null };

/** The tabs of shells open on `service`. */
export default function Terminals({ backend, stack, env, service, running }: { backend: Backend; stack: string; env: string; service: string; running: boolean }) {
  const [tabs, setTabs] = useState<Tab[]>([]);
  const [shown, setShown] = useState<number | null>(null);
  const next = useRef(1);

  const open = () => {
    const key = next.current++;
    setTabs((t) => [...t, { key, ended: false, error: null }]);
    setShown(key);
  };
  const close = (key: number) => {
    const rest = tabs.filter((x) => x.key !== key);
    setTabs(rest);
    if (shown === key) setShown(rest.at(-1)?.key ?? null);
  };
  const end = (key: number, error: string | null) => setTabs((t) => t.map((x) => (x.key === key ? { ...x, ended: true, error } : x)));

  return (
    <div className="terminals">
      <div className="terminal-tabs" role="tablist" aria-label={`shells in ${service}`}>
        {tabs.map((t) => (
          <span key={t.key} className={`terminal-tab${t.key === shown ? " shown" : ""}`}>
            <button role="tab" aria-selected={t.key === shown} data-testid={`terminal-tab-${t.key}`} onClick={() => setShown(t.key)}>
              Shell {t.key}
              {t.ended ? " (ended)" : ""}
            </button>
            <button className="terminal-close" aria-label={`close shell ${t.key}`} data-testid={`terminal-close-${t.key}`} onClick={() => close(t.key)}>
              ×
            </button>
          </span>
        ))}
        <button data-testid="terminal-open" onClick={open} disabled={!running} title={running ? `A shell in ${service}` : "Not running: start it first"}>
          {tabs.length ? "+ Shell" : "Open a shell"}
        </button>
      </div>
      {tabs.map((t) => (
        <div key={t.key} hidden={t.key !== shown}>
          {t.error && <p className="bad">{t.error}</p>}
          {!t.error && <Shell backend={backend} stack={stack} env={env} service={service} n={t.key} visible={t.key === shown} onEnded={(why) => end(t.key, why)} />}
          {t.ended && !t.error && <p className="muted">The shell has ended.</p>}
        </div>
      ))}
    </div>
  );
}
