import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import type { Backend } from "./backend";
import type { LogLine } from "./bindings/LogLine";
import { LogBuffer } from "./logs";

const ROW = 16;

/** Logs of some services (all when `services` is empty), followed live over a channel; a
 * virtualised list renders only the rows about the view (each at least a row high, a long line
 * wrapped in full), and the buffer is bounded. */
export function LogView({ backend, stack, env, services, height }: { backend: Backend; stack: string; env: string; services: string[]; height: number }) {
  const buffer = useRef(new LogBuffer());
  const [version, setVersion] = useState(0);
  const [search, setSearch] = useState("");
  const [follow, setFollow] = useState(true);
  const [timestamps, setTimestamps] = useState(false);
  const [scrollTop, setScrollTop] = useState(0);
  const box = useRef<HTMLDivElement>(null);
  const key = services.join(",");

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

  const lines = useMemo(() => buffer.current.view(search), [version, search]);
  // Following: the newest line in view after every render (wrapped lines make rows taller).
  useLayoutEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  });
  const first = Math.max(0, Math.floor(scrollTop / ROW) - 5);
  const count = Math.ceil(height / ROW) + 10;
  const visible = lines.slice(first, first + count);

  return (
    <div className="logview" data-testid="logview">
      <div className="logview-bar">
        <input aria-label="search logs" placeholder="Search" value={search} onChange={(e) => setSearch(e.target.value)} />
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
        <label>
          <input type="checkbox" checked={timestamps} onChange={(e) => setTimestamps(e.target.checked)} /> Timestamps
        </label>
        <span className="muted" data-testid="log-count">
          {lines.length} lines{buffer.current.dropped > 0 ? ` (oldest ${buffer.current.dropped} dropped)` : ""}
        </span>
      </div>
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
          <div key={first + i} className={`logline${l.stderr ? " logline-err" : ""}`}>
            {timestamps && l.timestamp && <span className="muted">{l.timestamp.slice(11, 23)} </span>}
            {services.length !== 1 && <span className="logsvc">{l.service}</span>}
            {l.line}
          </div>
        ))}
        <div style={{ height: Math.max(0, lines.length - first - visible.length) * ROW }} />
      </div>
    </div>
  );
}
