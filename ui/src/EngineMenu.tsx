// The engine picker: the Docker engine the open stack is watched on, and a menu of every engine
// (the docker CLI's contexts), each asked when the menu opens (never otherwise), to choose another.
import { useEffect, useRef, useState, type KeyboardEvent } from "react";
import { apiError, type Backend } from "./backend";
import type { EngineInfo } from "./bindings/EngineInfo";

export function EngineMenu({ backend, engine, disabled, onChoose }: { backend: Backend; engine: string | null; disabled: boolean; onChoose: (engine: string) => Promise<void> }) {
  const [open, setOpen] = useState(false);
  const [engines, setEngines] = useState<EngineInfo[] | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [choosing, setChoosing] = useState<string | null>(null);
  const box = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const list = useRef<HTMLDivElement>(null);
  // The menu opened last: what an earlier opening answers late is dropped.
  const asked = useRef(0);

  // Whether the focus goes back to the button once the menu is gone.
  const refocus = useRef(false);

  const close = (focusButton: boolean) => {
    asked.current++;
    refocus.current = focusButton;
    setOpen(false);
  };

  // Once the menu is closed, not before: a click right after the engines came could run before
  // the effect that focuses the chosen row, which then took the focus into the closing menu (and,
  // with the menu gone, to the page's body).
  useEffect(() => {
    if (open || !refocus.current) return;
    refocus.current = false;
    button.current?.focus();
  }, [open]);

  const show = async () => {
    const n = ++asked.current;
    setOpen(true);
    setEngines(null);
    setMessage(null);
    try {
      const found = await backend.call("engines_list", {});
      if (asked.current === n) setEngines(found);
    } catch (e) {
      if (asked.current === n) setMessage(apiError(e).message);
    }
  };

  const choose = async (e: EngineInfo) => {
    close(true);
    if (e.chosen) return;
    setChoosing(e.name);
    try {
      await onChoose(e.name);
    } finally {
      setChoosing(null);
    }
  };

  // The engines listed: the chosen one has the focus, as in a menu of choices.
  useEffect(() => {
    if (!open || !engines) return;
    const items = list.current?.querySelectorAll<HTMLElement>("[role=menuitemradio]");
    ([...(items ?? [])].find((i) => i.getAttribute("aria-checked") === "true") ?? items?.[0])?.focus();
  }, [open, engines]);

  // A click elsewhere closes the menu (listened to only while it is open).
  useEffect(() => {
    if (!open) return;
    const outside = (e: MouseEvent) => {
      if (!box.current?.contains(e.target as Node)) close(false);
    };
    document.addEventListener("mousedown", outside);
    return () => document.removeEventListener("mousedown", outside);
  }, [open]);

  const onKeyDown = (e: KeyboardEvent) => {
    if (!open) return;
    if (e.key === "Escape") {
      // The menu's own: the service in the side panel stays selected.
      e.stopPropagation();
      close(true);
      return;
    }
    const items = [...(list.current?.querySelectorAll<HTMLElement>("[role=menuitemradio]") ?? [])];
    if (items.length === 0) return;
    const at = items.indexOf(document.activeElement as HTMLElement);
    const to = { ArrowDown: at + 1, ArrowUp: at < 0 ? items.length - 1 : at - 1, Home: 0, End: items.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    items[(to + items.length) % items.length].focus();
  };

  return (
    <div
      className="menu engine-picker"
      ref={box}
      onKeyDown={onKeyDown}
      onBlur={(e) => {
        // Focus gone elsewhere (Tab away): the menu closes.
        if (open && e.relatedTarget && !box.current?.contains(e.relatedTarget as Node)) close(false);
      }}
    >
      <button
        ref={button}
        data-testid="engine-picker"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-label={`Engine: ${choosing ?? engine ?? "…"}`}
        title={`The Docker engine this stack is watched and run on (${engine ?? "…"}): choose another`}
        onClick={() => (open ? close(false) : show())}
        disabled={disabled}
      >
        {choosing ? `${choosing}…` : (engine ?? "…")}
      </button>
      {open && (
        <div className="menu-body engine-menu" data-testid="engine-menu">
          {message ? (
            <p className="bad" role="alert">
              {message}
            </p>
          ) : engines === null ? (
            <p className="muted" role="status" data-testid="engine-loading">
              Asking the engines…
            </p>
          ) : (
            <div role="menu" aria-label="Docker engines" ref={list}>
              {engines.map((e) => (
                <button
                  key={e.name}
                  role="menuitemradio"
                  aria-checked={e.chosen}
                  tabIndex={-1}
                  data-testid={`engine-row-${e.name}`}
                  className={`engine-row${e.version === null ? " engine-down" : ""}`}
                  title={[e.description, e.current ? "the docker CLI's current context" : ""].filter(Boolean).join(" · ") || undefined}
                  onClick={() => choose(e)}
                >
                  <span className="engine-head">
                    <span className="engine-mark" aria-hidden="true">
                      {e.chosen ? "✓" : ""}
                    </span>
                    <span className="engine-name">{e.name}</span>
                    {e.tls && (
                      <span className="badge badge-tls" title={`TLS, certificates in ${e.tls}`}>
                        TLS
                      </span>
                    )}
                  </span>
                  <span className="engine-host">{e.host}</span>
                  {e.version !== null ? (
                    <span className="engine-state">Docker {e.version}</span>
                  ) : (
                    <span className="engine-state engine-error" title={e.error ?? undefined}>
                      unreachable: {e.error ?? "no answer"}
                    </span>
                  )}
                </button>
              ))}
            </div>
          )}
        </div>
      )}
    </div>
  );
}
