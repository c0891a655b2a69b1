import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { apiError, type Backend } from "./backend";
import type { LogLine } from "./bindings/LogLine";
import { exportText, filterKey, isError, loadFilter, LogBuffer, saveFilter, serviceColour, type LogFilter } from "./logs";

const ROW = 16;

/** Logs of some services (all when `services` is empty), followed live over a channel; a
 * virtualised list renders only the rows about the view (each at least a row high, a long line
 * wrapped in full), and the buffer is bounded. The stack's log (all services) has a chip per
 * service (those `known` and those seen) to show only some; the search and that choice are kept
 * per stack in localStorage. */
export function LogView({
  backend,
  stack,
  env,
  services,
  height,
  known = [],
}: {
  backend: Backend;
  stack: string;
  env: string;
  services: string[];
  height: number;
  /** The stack's services, offered as chips before they have logged anything. */
  known?: string[];
}) {
  const buffer = useRef(new LogBuffer());
  const [version, setVersion] = useState(0);
  const [follow, setFollow] = useState(true);
  const [timestamps, setTimestamps] = useState(false);
  const [scrollTop, setScrollTop] = useState(0);
  // The line First error went to (marked until the next jump), and whether to settle on it.
  const [jump, setJump] = useState<LogLine | null>(null);
  const jumping = useRef(false);
  const [saved, setSaved] = useState<string | null>(null);
  const box = useRef<HTMLDivElement>(null);
  const key = services.join(",");
  const merged = services.length === 0;

  // The filter kept for this stack (or this service), read again when the view shows another.
  const storeKey = filterKey(stack, merged ? undefined : key);
  const [filter, setFilterState] = useState(() => ({ key: storeKey, ...loadFilter(storeKey) }));
  if (filter.key !== storeKey) setFilterState({ key: storeKey, ...loadFilter(storeKey) });
  const search = filter.search;
  const selected = merged ? filter.services : [];
  const setFilter = (f: LogFilter) => {
    saveFilter(storeKey, f);
    setFilterState({ key: storeKey, ...f });
  };

  useEffect(() => {
    buffer.current = new LogBuffer();
    setVersion((v) => v + 1);
    let id: number | null = null;
    let cancelled = false;
    let pending = false;
    const onLine = (l: LogLine) => {
        buffer.current.push(l);
        // Redraw at most once a frame, however fast lines arrive.
        if (!pending) {
          pending = true;
          requestAnimationFrame(() => {
            pending = false;
            setVersion((v) => v + 1);
          });
        }
    };
    const stop = (i: number) => void backend.call("logs_stop", { id: i }).catch(() => {});
    backend
      .call("logs_follow", { stack, env, services: key ? key.split(",") : [], tail: 1000, onLine })
      .then((i) => {
        id = i;
        if (cancelled) stop(i);
      })
      .catch(() => {});
    return () => {
      cancelled = true;
      if (id !== null) stop(id);
    };
  }, [backend, stack, env, key]);

  const selectedKey = selected.join("\n");
  const [lines, firstError] = useMemo(() => {
    const shown = buffer.current.view(search, selected);
    return [shown, shown.findIndex(isError)] as const;
  }, [version, search, selectedKey]);
  // Following: the newest line in view after every render (wrapped lines make rows taller).
  // After a jump: the marked line at the top of the view, once its row is drawn.
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    if (follow) el.scrollTop = el.scrollHeight;
    else if (jumping.current) {
      jumping.current = false;
      const row = el.querySelector<HTMLElement>(".logline-jump");
      if (row) {
        const off = row.getBoundingClientRect().top - el.getBoundingClientRect().top;
        if (off < 0 || off + row.offsetHeight > el.clientHeight) el.scrollTop += off;
      }
    }
  });
  const first = Math.max(0, Math.floor(scrollTop / ROW) - 5);
  const count = Math.ceil(height / ROW) + 10;
  const visible = lines.slice(first, first + count);

  const toFirstError = () => {
    if (firstError < 0) return;
    const top = firstError * ROW;
    setFollow(false);
    setJump(lines[firstError]);
    jumping.current = true;
    setScrollTop(top);
    if (box.current) box.current.scrollTop = top;
  };

  const exportShown = async () => {
    const name = `${stack}-${env}${merged ? "" : `-${services.join("-")}`}.log`;
    try {
      const path = await backend.call("logs_export", { text: exportText(lines), suggestedName: name });
      if (path) setSaved(`Saved to ${path}`);
    } catch (e) {
      setSaved(`Export failed: ${apiError(e).message}`);
    }
  };

  // The chips: the services known, those seen, and those chosen before (even if not seen yet).
  const chips = merged ? [...new Set([...known, ...buffer.current.services, ...selected])].sort() : [];
  const toggle = (s: string) => setFilter({ search, services: selected.includes(s) ? selected.filter((x) => x !== s) : [...selected, s] });

  return (
    <div className="logview" data-testid="logview">
      <div className="logview-bar">
        <input aria-label="search logs" placeholder="Search" value={search} onChange={(e) => setFilter({ search: e.target.value, services: selected })} />
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
        <label>
          <input type="checkbox" checked={timestamps} onChange={(e) => setTimestamps(e.target.checked)} /> Timestamps
        </label>
        <button type="button" className="small" data-testid="log-first-error" disabled={firstError < 0} onClick={toFirstError}>
          First error
        </button>
        <button type="button" className="small" data-testid="log-export" disabled={lines.length === 0} onClick={() => void exportShown()}>
          Export…
        </button>
        <span className="muted" data-testid="log-count">
          {lines.length} lines{buffer.current.dropped > 0 ? ` (oldest ${buffer.current.dropped} dropped)` : ""}
        </span>
        {saved && (
          <span className="muted logview-saved" role="status" data-testid="log-saved">
            {saved}
          </span>
        )}
      </div>
      {merged && chips.length > 0 && (
        <div className="logview-chips" role="group" aria-label="services shown">
          <button type="button" className="logchip" data-testid="log-all" aria-pressed={selected.length === 0} onClick={() => setFilter({ search, services: [] })}>
            All
          </button>
          {chips.map((s) => (
            <button
              type="button"
              key={s}
              className={`logchip logc-${serviceColour(s)}`}
              data-testid={`log-chip-${s}`}
              data-service={s}
              aria-pressed={selected.includes(s)}
              onClick={() => toggle(s)}
            >
              {s}
            </button>
          ))}
        </div>
      )}
      <div
        className="logview-rows"
        ref={box}
        style={{ height }}
        onScroll={(e) => {
          const el = e.currentTarget;
          setScrollTop(el.scrollTop);
          setFollow(el.scrollTop + el.clientHeight >= el.scrollHeight - ROW);
        }}
      >
        {/* The rows before and after the rendered ones hold their place (a row each). */}
        <div style={{ height: first * ROW }} />
        {visible.map((l, i) => (
          <div
            key={first + i}
            className={`logline${l.stderr ? " logline-stderr" : ""}${isError(l) ? " logline-err" : ""}${l === jump ? " logline-jump" : ""}`}
          >
            {timestamps && l.timestamp && <span className="muted">{l.timestamp.slice(11, 23)} </span>}
            {services.length !== 1 && <span className={`logsvc logc-${serviceColour(l.service)}`}>{l.service}</span>}
            {l.line}
          </div>
        ))}
        <div style={{ height: Math.max(0, lines.length - first - visible.length) * ROW }} />
      </div>
    </div>
  );
}
