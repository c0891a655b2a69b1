import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import axe from "axe-core";
import { afterEach, describe, expect, it } from "vitest";
import type { LogLine } from "./bindings/LogLine";
import { FakeBackend } from "./fake";
import { isError, LogBuffer, MAX_LINES, serviceColour } from "./logs";
import { LogView } from "./LogView";

// Node runs the tests; the app itself never sees `process`.
declare const process: { memoryUsage(): { heapUsed: number }; cwd(): string };

afterEach(() => {
  cleanup();
  window.localStorage.clear();
});

const line = (i: number, service = "api"): LogLine => ({ service, timestamp: "2026-11-28T05:00:00.000000000Z", stderr: false, line: `line ${i}` });

describe("the log buffer", () => {
  it("stays bounded after a million lines, keeping the newest", () => {
    const b = new LogBuffer();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 1_000_000; i++) b.push(line(i));
    const after = process.memoryUsage().heapUsed;
    expect(b.length).toBe(MAX_LINES);
    expect(b.dropped).toBe(1_000_000 - MAX_LINES);
    const v = b.view();
    expect(v[0].line).toBe(`line ${1_000_000 - MAX_LINES}`);
    expect(v.at(-1)?.line).toBe("line 999999");
    console.log(`log buffer after 1,000,000 lines: ${b.length} kept, heap +${((after - before) / 1048576).toFixed(1)} MiB`);
  });

  it("searches case-insensitively in lines and service names", () => {
    const b = new LogBuffer(10);
    b.push({ ...line(1), line: "ERROR connecting" });
    b.push(line(2, "db"));
    expect(b.view("error").length).toBe(1);
    expect(b.view("DB").length).toBe(1);
  });

  it("filters by service, and by service and text together", () => {
    const b = new LogBuffer(10);
    for (let i = 0; i < 12; i++) b.push(line(i, ["api", "db", "web"][i % 3]));
    expect([...b.services]).toEqual(["api", "db", "web"]);
    expect(b.view("", ["db"]).map((l) => l.line)).toEqual(["line 4", "line 7", "line 10"]);
    expect(b.view("", ["db", "web"]).length).toBe(7);
    expect(b.view("line 1", ["api", "web"]).map((l) => l.line)).toEqual(["line 11"]);
    expect(b.view("", []).length).toBe(10);
  });

  it("tells errors by their words or level, not by stderr", () => {
    const l = (text: string, stderr = false): LogLine => ({ service: "api", timestamp: null, stderr, line: text });
    for (const t of ["ERROR connecting", "connection failed", "panic: boom", 'ts=1 level=error msg="x"', '{"level":"error","msg":"x"}', "lvl=crit", "FATAL:  role does not exist", "java.lang.NullPointerException", "Unhandled failure"])
      expect(isError(l(t)), t).toBe(true);
    for (const t of ["INFO listening on :8080", "0 errors, 2 warnings", "level=info msg=started", "terror"]) expect(isError(l(t, true)), t).toBe(false);
  });

  it("gives each service a stable colour slot", () => {
    expect(serviceColour("api")).toBe(serviceColour("api"));
    for (const s of ["api", "db", "web", "sirius-postgres", ""]) expect(serviceColour(s)).toBeGreaterThanOrEqual(0);
    expect(new Set(["api", "db", "web", "worker", "cache", "proxy", "queue", "mail"].map(serviceColour)).size).toBeGreaterThan(3);
  });
});

describe("the log view", () => {
  it("streams, filters and renders only the visible rows", async () => {
    const backend = new FakeBackend({ stacks: [], open_stack: "lab", open_env: "dev", theme: "system" }, {});
    render(<LogView backend={backend} stack="lab" env="dev" services={[]} height={160} />);
    await waitFor(() => expect(backend.calls).toContain("logs all"));
    act(() => {
      for (let i = 0; i < 5000; i++) backend.log(line(i, i % 2 ? "api" : "db"));
    });
    await waitFor(() => expect(screen.getByTestId("log-count").textContent).toContain("5000 lines"));
    const rendered = screen.getByTestId("logview").querySelectorAll(".logline").length;
    expect(rendered).toBeLessThan(40);
    fireEvent.change(screen.getByLabelText("search logs"), { target: { value: "line 4999" } });
    await waitFor(() => expect(screen.getByTestId("log-count").textContent).toContain("1 lines"));
    expect(screen.getByTestId("logview").textContent).toContain("line 4999");
    cleanup();
    await waitFor(() => expect(backend.calls).toContain("logs stop 1"));
  });
});

describe("the stack's log", () => {
  const backend = () => new FakeBackend({ stacks: [], open_stack: "lab", open_env: "dev", theme: "system" }, {});
  const shown = () => [...screen.getByTestId("logview").querySelectorAll(".logline")].map((e) => e.textContent);

  it("shows only the chosen services' lines, each service in its colour", async () => {
    const b = backend();
    render(<LogView backend={b} stack="lab" env="dev" services={[]} known={["cache"]} height={400} />);
    await waitFor(() => expect(b.calls).toContain("logs all"));
    act(() => {
      for (let i = 0; i < 9; i++) b.log(line(i, ["api", "db", "web"][i % 3]));
    });
    await waitFor(() => expect(screen.getByTestId("log-count").textContent).toContain("9 lines"));
    // A chip per service seen and known, All pressed.
    expect(screen.getAllByRole("button", { pressed: false }).map((c) => c.textContent)).toEqual(["api", "cache", "db", "web"]);
    expect(screen.getByTestId("log-all").getAttribute("aria-pressed")).toBe("true");
    expect(screen.getByTestId("log-chip-db").className).toContain(`logc-${serviceColour("db")}`);
    expect(screen.getByTestId("logview").querySelector(".logsvc")?.className).toContain(`logc-${serviceColour("api")}`);

    fireEvent.click(screen.getByTestId("log-chip-db"));
    expect(screen.getByTestId("log-chip-db").getAttribute("aria-pressed")).toBe("true");
    expect(screen.getByTestId("log-all").getAttribute("aria-pressed")).toBe("false");
    expect(shown()).toEqual(["dbline 1", "dbline 4", "dbline 7"]);
    // New lines of other services stay hidden.
    act(() => {
      b.log(line(9, "api"));
      b.log(line(10, "db"));
    });
    await waitFor(() => expect(screen.getByTestId("log-count").textContent).toContain("4 lines"));
    expect(shown()).toEqual(["dbline 1", "dbline 4", "dbline 7", "dbline 10"]);

    fireEvent.click(screen.getByTestId("log-chip-web"));
    expect(shown()).toEqual(["dbline 1", "webline 2", "dbline 4", "webline 5", "dbline 7", "webline 8", "dbline 10"]);
    fireEvent.click(screen.getByTestId("log-all"));
    expect(screen.getByTestId("log-count").textContent).toContain("11 lines");
  });

  it("keeps the search and the chosen services per stack", async () => {
    const b = backend();
    render(<LogView backend={b} stack="lab" env="dev" services={[]} height={400} />);
    act(() => {
      b.log(line(1, "api"));
      b.log(line(2, "db"));
    });
    await waitFor(() => expect(screen.getByTestId("log-count").textContent).toContain("2 lines"));
    fireEvent.change(screen.getByLabelText("search logs"), { target: { value: "line" } });
    fireEvent.click(screen.getByTestId("log-chip-db"));
    cleanup();

    render(<LogView backend={b} stack="lab" env="dev" services={[]} height={400} />);
    expect((screen.getByLabelText("search logs") as HTMLInputElement).value).toBe("line");
    // Chosen before, offered before it logs again.
    expect(screen.getByTestId("log-chip-db").getAttribute("aria-pressed")).toBe("true");
    act(() => {
      b.log(line(3, "api"));
      b.log(line(4, "db"));
    });
    await waitFor(() => expect(shown()).toEqual(["dbline 4"]));
    cleanup();

    // Another stack has its own; one service's log keeps only its search.
    render(<LogView backend={b} stack="other" env="dev" services={[]} height={400} />);
    expect((screen.getByLabelText("search logs") as HTMLInputElement).value).toBe("");
    cleanup();
    render(<LogView backend={b} stack="lab" env="dev" services={["api"]} height={400} />);
    expect((screen.getByLabelText("search logs") as HTMLInputElement).value).toBe("");
    fireEvent.change(screen.getByLabelText("search logs"), { target: { value: "boom" } });
    cleanup();
    render(<LogView backend={b} stack="lab" env="dev" services={["api"]} height={400} />);
    expect((screen.getByLabelText("search logs") as HTMLInputElement).value).toBe("boom");
  });

  it("jumps to the first error shown, not to an info line on stderr", async () => {
    const b = backend();
    render(<LogView backend={b} stack="lab" env="dev" services={[]} height={160} />);
    await waitFor(() => expect(b.calls).toContain("logs all"));
    const button = screen.getByTestId("log-first-error") as HTMLButtonElement;
    act(() => {
      for (let i = 0; i < 5000; i++) {
        const l = line(i, i % 2 ? "api" : "db");
        if (i === 100) b.log({ ...l, stderr: true, line: "INFO listening on :8080" });
        else if (i === 3001) b.log({ ...l, line: 'level=error msg="connection refused"' });
        else if (i === 4000) b.log({ ...l, line: "panic: later" });
        else b.log(l);
      }
    });
    await waitFor(() => expect(screen.getByTestId("log-count").textContent).toContain("5000 lines"));
    expect(button.disabled).toBe(false);
    const follow = screen.getByLabelText("Follow") as HTMLInputElement;
    expect(follow.checked).toBe(true);
    fireEvent.click(button);
    const marked = screen.getByTestId("logview").querySelectorAll(".logline-jump");
    expect(marked.length).toBe(1);
    expect(marked[0].textContent).toBe('apilevel=error msg="connection refused"');
    expect(marked[0].className).toContain("logline-err");
    expect(follow.checked).toBe(false);
    // Only the rows about it are drawn.
    expect(screen.getByTestId("logview").querySelectorAll(".logline").length).toBeLessThan(40);

    // Showing only db: its first error is a later one; none at all disables the button.
    fireEvent.click(screen.getByTestId("log-chip-db"));
    fireEvent.click(button);
    expect(screen.getByTestId("logview").querySelector(".logline-jump")?.textContent).toBe("dbpanic: later");
    fireEvent.change(screen.getByLabelText("search logs"), { target: { value: "listening" } });
    expect(button.disabled).toBe(true);
  });

  it("exports exactly the lines shown", async () => {
    const b = backend();
    render(<LogView backend={b} stack="lab" env="dev" services={[]} height={160} />);
    act(() => {
      for (let i = 0; i < 30; i++) b.log(line(i, i % 2 ? "api" : "db"));
      b.log({ service: "db", timestamp: null, stderr: true, line: "line 1 without a time" });
    });
    await waitFor(() => expect(screen.getByTestId("log-count").textContent).toContain("31 lines"));
    fireEvent.click(screen.getByTestId("log-chip-db"));
    fireEvent.change(screen.getByLabelText("search logs"), { target: { value: "line 1" } });
    fireEvent.click(screen.getByTestId("log-export"));
    await waitFor(() => expect(screen.getByTestId("log-saved").textContent).toBe("Saved to /tmp/fake.log"));
    expect(b.calls).toContain("export lab-dev.log");
    const t = "2026-11-28T05:00:00.000000000Z";
    expect(b.exported).toBe(`${t} db | line 10\n${t} db | line 12\n${t} db | line 14\n${t} db | line 16\n${t} db | line 18\ndb | line 1 without a time\n`);
  });

  it("keeps one service's log simple: no chips, but search, First error and Export", async () => {
    const b = backend();
    render(<LogView backend={b} stack="lab" env="dev" services={["api"]} height={160} />);
    await waitFor(() => expect(b.calls).toContain("logs api"));
    act(() => {
      b.log({ ...line(1), line: "starting" });
      b.log({ ...line(2), line: "Exception in thread main" });
    });
    await waitFor(() => expect(screen.getByTestId("log-count").textContent).toContain("2 lines"));
    expect(screen.queryByTestId("log-all")).toBeNull();
    expect(screen.getByTestId("logview").querySelector(".logsvc")).toBeNull();
    fireEvent.click(screen.getByTestId("log-first-error"));
    expect(screen.getByTestId("logview").querySelector(".logline-jump")?.textContent).toBe("Exception in thread main");
    fireEvent.click(screen.getByTestId("log-export"));
    await waitFor(() => expect(screen.getByTestId("log-saved").textContent).toBe("Saved to /tmp/fake.log"));
    expect(b.calls).toContain("export lab-dev-api.log");
    expect(b.exported?.split("\n").length).toBe(3);
  });
});

describe("the log view's accessibility", () => {
  it("has no serious or critical axe violation, chips and all", async () => {
    const b = new FakeBackend({ stacks: [], open_stack: "lab", open_env: "dev", theme: "system" }, {});
    const { container } = render(
      <main>
        <LogView backend={b} stack="lab" env="dev" services={[]} known={["db"]} height={160} />
        <LogView backend={b} stack="lab" env="dev" services={["api"]} height={160} />
      </main>,
    );
    act(() => {
      b.log(line(1, "api"));
      b.log({ ...line(2, "db"), line: "ERROR boom" });
    });
    await waitFor(() => expect(screen.getAllByTestId("log-count")[0].textContent).toContain("2 lines"));
    fireEvent.click(screen.getByTestId("log-chip-db"));
    fireEvent.click(screen.getAllByTestId("log-first-error")[0]);
    fireEvent.click(screen.getAllByTestId("log-export")[0]);
    await waitFor(() => expect(screen.getByTestId("log-saved")).toBeTruthy());
    // jsdom has no layout for colour contrast: the colours are checked below.
    const r = await axe.run(container, { rules: { "color-contrast": { enabled: false } } });
    expect(r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => v.id)).toEqual([]);
  });

  it("gives every service colour and error lines 4.5:1 on the backgrounds of both themes", async () => {
    // The stylesheet as written (vitest hands CSS imports over empty).
    const fs = (await import(/* @vite-ignore */ ["node", "fs"].join(":"))) as { readFileSync(path: string, encoding: "utf8"): string };
    const css = fs.readFileSync(`${process.cwd()}/src/styles.css`, "utf8");
    const vars = (block: string) => Object.fromEntries([...block.matchAll(/(--[\w-]+):\s*(#[0-9a-f]{6})/gi)].map((m) => [m[1], m[2]]));
    const blocks = [...css.matchAll(/:root(\[data-theme="dark"\])?\s*\{([^}]*)\}/g)];
    const light = Object.assign({}, ...blocks.filter((m) => !m[1]).map((m) => vars(m[2])));
    const dark = { ...light, ...Object.assign({}, ...blocks.filter((m) => m[1]).map((m) => vars(m[2]))) };
    const lum = (h: string) => {
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16) / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const ratio = (a: string, b: string) => (Math.max(lum(a), lum(b)) + 0.05) / (Math.min(lum(a), lum(b)) + 0.05);
    for (const theme of [light, dark]) {
      for (const fg of [...Array.from({ length: 8 }, (_, i) => `--svc-${i}`), "--log-err"]) {
        for (const bg of ["--bg", "--card"]) expect(ratio(theme[fg], theme[bg]), `${fg} on ${bg}`).toBeGreaterThanOrEqual(4.5);
      }
    }
  });
});
