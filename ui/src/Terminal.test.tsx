import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import type { Terminal as XTerm } from "@xterm/xterm";
import { afterEach, describe, expect, it } from "vitest";
import { FakeBackend } from "./fake";
import Terminals from "./Terminal";

afterEach(cleanup);

const backend = () => new FakeBackend({ stacks: [], open_stack: "lab", open_env: "dev", theme: "system" }, {});

/** What the terminal in `el` shows, line by line, from its buffer. */
function shown(el: HTMLElement): string {
  const term = (el as HTMLElement & { term?: XTerm }).term;
  const buf = term?.buffer.active;
  if (!buf) return "";
  return Array.from({ length: buf.length }, (_, i) => buf.getLine(i)?.translateToString(true) ?? "").join("\n");
}

describe("shells in the side panel", () => {
  it("opens a shell in the service, shows its output, types into it, and ends it when its tab closes", async () => {
    const b = backend();
    render(<Terminals backend={b} stack="lab" env="dev" service="api" running />);
    fireEvent.click(screen.getByTestId("terminal-open"));
    await waitFor(() => expect(b.calls.some((c) => c.startsWith("terminal open api "))).toBe(true));
    act(() => b.terminalOutput?.({ kind: "data", text: "root@api:/# " }));
    const screenEl = screen.getByTestId("terminal-screen-1");
    await waitFor(() => expect(shown(screenEl)).toContain("root@api:/#"));
    const term = (screenEl as HTMLElement & { term?: XTerm }).term;
    act(() => term?.input("ls\r"));
    await waitFor(() => expect(b.calls).toContain('terminal input 7 "ls\\r"'));
    fireEvent.click(screen.getByTestId("terminal-close-1"));
    await waitFor(() => expect(b.calls).toContain("terminal close 7"));
    expect(screen.queryByTestId("terminal-screen-1")).toBeNull();
  });

  it("says when a shell has ended, and offers none in a stopped service", async () => {
    const b = backend();
    const { rerender } = render(<Terminals backend={b} stack="lab" env="dev" service="api" running />);
    fireEvent.click(screen.getByTestId("terminal-open"));
    await waitFor(() => expect(b.terminalOutput).not.toBeNull());
    act(() => b.terminalOutput?.({ kind: "ended" }));
    expect(await screen.findByText("The shell has ended.")).toBeTruthy();
    expect(screen.getByTestId("terminal-tab-1").textContent).toContain("(ended)");
    rerender(<Terminals backend={b} stack="lab" env="dev" service="api" running={false} />);
    expect((screen.getByTestId("terminal-open") as HTMLButtonElement).disabled).toBe(true);
  });

  it("ends every shell when the panel closes", async () => {
    const b = backend();
    const { unmount } = render(<Terminals backend={b} stack="lab" env="dev" service="api" running />);
    fireEvent.click(screen.getByTestId("terminal-open"));
    await waitFor(() => expect(b.calls.some((c) => c.startsWith("terminal open"))).toBe(true));
    await act(async () => {});
    unmount();
    expect(b.calls).toContain("terminal close 7");
  });
});
