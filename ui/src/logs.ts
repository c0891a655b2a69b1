// A bounded buffer of log lines: memory stays flat however long a stream runs.
import type { LogLine } from "./bindings/LogLine";

export const MAX_LINES = 20000;

export class LogBuffer {
  private lines: LogLine[] = [];
  private start = 0;
  /** Lines dropped from the front to stay within the bound. */
  dropped = 0;
  /** Every service seen in the stream, in the order first seen (as many as the stack has). */
  readonly services = new Set<string>();

  constructor(private readonly max = MAX_LINES) {}

  push(l: LogLine) {
    this.services.add(l.service);
    if (this.lines.length < this.max) {
      this.lines.push(l);
    } else {
      this.lines[this.start] = l;
      this.start = (this.start + 1) % this.max;
      this.dropped++;
    }
  }

  get length(): number {
    return this.lines.length;
  }

  /** Lines oldest first, optionally only those containing `search` (case-insensitive, in the
   * line or the service's name) and only those of `services` (all when empty). */
  view(search = "", services: readonly string[] = []): LogLine[] {
    const ordered = this.start === 0 ? this.lines : [...this.lines.slice(this.start), ...this.lines.slice(0, this.start)];
    if (!search && services.length === 0) return ordered;
    const s = search.toLowerCase();
    const only = services.length ? new Set(services) : null;
    return ordered.filter((l) => (!only || only.has(l.service)) && (!s || l.line.toLowerCase().includes(s) || l.service.toLowerCase().includes(s)));
  }
}

// What makes a line an error: its words or its level field. Being on stderr is not enough (many
// programs log everything there).
const ERROR_WORDS = /\b(error|fatal|panic|exception|fail(ed|ure)?)\b/i;
const ERROR_LEVEL = /\b(level|lvl|severity)"?\s*[=:]\s*"?(err|eror|crit|critical|alert|emerg|emergency)\b/i;
const ERROR_OTHER = /\b(ERR|CRIT|CRITICAL|EMERG)\b|\b[A-Z]\w*(Error|Exception)\b|^Traceback \(most recent call last\)/;
const errors = new WeakMap<LogLine, boolean>();

/** Whether a line reports an error (judged once per line). */
export function isError(l: LogLine): boolean {
  let e = errors.get(l);
  if (e === undefined) {
    e = ERROR_WORDS.test(l.line) || ERROR_LEVEL.test(l.line) || ERROR_OTHER.test(l.line);
    errors.set(l, e);
  }
  return e;
}

/** A service's colour: one of the `--svc-0`..`--svc-7` slots of styles.css, by a stable hash of
 * its name (FNV-1a), the same in every view and every run. */
export const SERVICE_COLOURS = 8;
export function serviceColour(service: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < service.length; i++) {
    h ^= service.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % SERVICE_COLOURS;
}

/** Lines as exported: `timestamp service | line`, one a line. */
export function exportText(lines: readonly LogLine[]): string {
  return lines.map((l) => `${l.timestamp ? `${l.timestamp} ` : ""}${l.service} | ${l.line}\n`).join("");
}

/** The filter a log view keeps per stack (and per service for one service's log). */
export type LogFilter = { search: string; services: string[] };

export function filterKey(stack: string, service?: string): string {
  return `deck-logs:${stack}${service ? `:${service}` : ""}`;
}

export function loadFilter(key: string): LogFilter {
  try {
    const v = JSON.parse(window.localStorage.getItem(key) ?? "null") as Partial<LogFilter> | null;
    return {
      search: typeof v?.search === "string" ? v.search : "",
      services: Array.isArray(v?.services) ? v.services.filter((s): s is string => typeof s === "string") : [],
    };
  } catch {
    return { search: "", services: [] };
  }
}

export function saveFilter(key: string, f: LogFilter) {
  try {
    if (!f.search && f.services.length === 0) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, JSON.stringify(f));
  } catch {
    // Storage unavailable: the filter lasts as long as the view.
  }
}
