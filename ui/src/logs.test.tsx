import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import type { LogLine } from "./bindings/LogLine";
import { FakeBackend } from "./fake";
import { LogBuffer, MAX_LINES } from "./logs";
import { LogView } from "./LogView";

// Node runs the tests; the app itself never sees `process`.
declare const process: { memoryUsage(): { heapUsed: number } };

afterEach(cleanup);

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
