// A bounded buffer of log lines: memory stays flat however long a stream runs.
import type { LogLine } from "./bindings/LogLine";

export const MAX_LINES = 20000;

export class LogBuffer {
  private lines: LogLine[] = [];
  private start = 0;
  /** Lines dropped from the front to stay within the bound. */
  dropped = 0;

  constructor(private readonly max = MAX_LINES) {}

  push(l: LogLine) {
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

  /** Lines oldest first, optionally only those containing `search` (case-insensitive). */
  view(search = ""): LogLine[] {
    const ordered = this.start === 0 ? this.lines : [...this.lines.slice(this.start), ...this.lines.slice(0, this.start)];
    if (!search) return ordered;
    const s = search.toLowerCase();
    return ordered.filter((l) => l.line.toLowerCase().includes(s) || l.service.toLowerCase().includes(s));
  }
}
