import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { age, Backups, human } from "./Backups";
import type { BackupSet } from "./bindings/BackupSet";
import { applyEvent, NO_PROGRESS } from "./operation";
import { FakeBackend } from "./fake";

afterEach(cleanup);

const now = Math.floor(Date.now() / 1000);

const set = (id: string, extra: Partial<BackupSet> = {}): BackupSet => ({
  id,
  kind: "manual",
  env: "dev",
  created_unix: now - 3600,
  size: 5 * 1048576,
  items: [
    { id: "db:sirius-postgres", description: "database sirius of sirius-postgres", size: 1048576 },
    { id: "volume:postgres_data", description: "volume lab_postgres_data", size: 4 * 1048576 },
  ],
  verified: "when_written",
  problem: null,
  verified_unix: null,
  path: "~/.local/share/sirius-deck/backups/lab/" + id,
  ...extra,
});

function fake() {
  const b = new FakeBackend({ stacks: [], open_stack: "lab", open_env: "dev", theme: "system" }, {});
  b.backupList = { ...b.backupList, sets: [set("2026-11-28T06-00-00Z")] };
  return b;
}

describe("Backups view", () => {
  it("backs up with a progress bar per item and lists the new set", async () => {
    const b = fake();
    b.newSet = set("2026-11-28T07-00-00Z", { created_unix: now - 5 });
    b.backupEvents = [
      { event: "plan", op: "backup", set: "2026-11-28T07-00-00Z", items: [{ item: "volume:postgres_data", description: "volume lab_postgres_data", total: 8 * 1048576, estimate: true }] },
      { event: "service", service: "sirius-postgres", phase: "stopped", detail: null, elapsed_ms: 300 },
      { event: "bytes", op: "backup", item: "volume:postgres_data", done: 4 * 1048576, total: 8 * 1048576 },
    ];
    render(<Backups backend={b} stack="lab" env="dev" onClose={() => {}} />);
    await screen.findByText("1h ago");
    fireEvent.click(screen.getByTestId("backup-now"));
    const bar = await screen.findByRole("progressbar", { name: "backup volume lab_postgres_data" });
    expect(bar.getAttribute("aria-valuenow")).toBe("50");
    expect(screen.getByText("4.0 MiB of ~8.0 MiB")).toBeTruthy();
    expect(screen.getByTestId("backup-progress").textContent).toContain("sirius-postgres  stopped");
    expect((await screen.findByTestId("backup-message")).textContent).toContain("2026-11-28T07-00-00Z written and verified");
    await waitFor(() => expect(screen.getByTestId("set-2026-11-28T07-00-00Z")).toBeTruthy());
  });

  it("asks before restoring, naming what is replaced, and restores only what stays ticked", async () => {
    const b = fake();
    render(<Backups backend={b} stack="lab" env="dev" onClose={() => {}} />);
    fireEvent.click(await screen.findByTestId("restore-2026-11-28T06-00-00Z"));
    const dialog = screen.getByTestId("restore-confirm");
    expect(dialog.textContent).toContain("database sirius of sirius-postgres");
    expect(dialog.textContent).toContain("volume lab_postgres_data");
    expect(dialog.textContent).toContain("safety backup");
    expect(b.calls.filter((c) => c.startsWith("restore"))).toEqual([]);
    fireEvent.click(within(dialog).getByLabelText(/volume lab_postgres_data/));
    fireEvent.click(screen.getByTestId("restore-go"));
    expect((await screen.findByTestId("backup-message")).textContent).toContain("safety set 2026-11-28T08-00-00Z-safety");
    expect(b.calls).toContain("restore 2026-11-28T06-00-00Z db:sirius-postgres");
  });

  it("shows why a restore was refused or undone", async () => {
    const b = fake();
    b.backupError = { code: "rolled_back", message: "the restore failed and was undone: the data is as it was before", diagnostics: [] };
    render(<Backups backend={b} stack="lab" env="dev" onClose={() => {}} />);
    fireEvent.click(await screen.findByTestId("restore-2026-11-28T06-00-00Z"));
    fireEvent.click(screen.getByTestId("restore-go"));
    expect((await screen.findByTestId("backup-error")).textContent).toContain("was undone");
  });

  it("says that a restore was interrupted, what it left, and settles it as the user chooses", async () => {
    const b = fake();
    b.backupList = {
      ...b.backupList,
      interrupted: [
        {
          op: "restore",
          what: "2026-11-28T06-00-00Z",
          began_unix: Date.now() / 1000 - 120,
          state: "its data may be half replaced",
          choices: [
            { resolution: "resume", consequence: "restore set 2026-11-28T06-00-00Z again" },
            { resolution: "roll_back", consequence: "restore safety set s1" },
            { resolution: "discard", consequence: "keep the data as it is now" },
          ],
        },
      ],
    };
    render(<Backups backend={b} stack="lab" env="dev" onClose={() => {}} />);
    expect((await screen.findByTestId("interrupted-restore")).textContent).toContain("was interrupted (2m ago): its data may be half replaced");
    fireEvent.click(screen.getByTestId("interrupted-restore-roll_back"));
    await waitFor(() => expect(b.calls).toContain("recover lab restore roll_back"));
    expect((await screen.findByText(/Done: rolled back/)).textContent).toContain("rolled back");
  });

  it("takes the backup folder from the system's dialog only", async () => {
    const b = fake();
    render(<Backups backend={b} stack="lab" env="dev" onClose={() => {}} />);
    const folder = await screen.findByLabelText("backup folder");
    expect(folder.tagName).toBe("OUTPUT");
    fireEvent.click(screen.getByTestId("choose-folder"));
    await waitFor(() => expect(b.calls).toContain("choose folder"));
    expect((await screen.findByText(/Backups now go to/)).textContent).toContain("/chosen/in/the/dialog");
    expect(screen.getByLabelText("backup folder").textContent).toBe("/chosen/in/the/dialog");
  });

  it("saves the settings", async () => {
    const b = fake();
    render(<Backups backend={b} stack="lab" env="dev" onClose={() => {}} />);
    const keep = await screen.findByLabelText("keep");
    fireEvent.change(keep, { target: { value: "4" } });
    fireEvent.click(screen.getByText("Save"));
    await waitFor(() => expect(b.calls).toContain("settings keep=4"));
  });
});

describe("progress", () => {
  it("keeps one bar per operation and item, with true totals once done", () => {
    let s = NO_PROGRESS;
    s = applyEvent(s, { event: "plan", op: "safety", set: "x", items: [{ item: "db:p", description: "database d of p", total: 100, estimate: true }] });
    s = applyEvent(s, { event: "plan", op: "restore", set: "y", items: [{ item: "db:p", description: "database d of p", total: 50, estimate: false }] });
    s = applyEvent(s, { event: "item_done", op: "safety", item: "db:p", raw: 5600, stored: 20 });
    expect(Object.keys(s.bars)).toEqual(["safety/db:p", "restore/db:p"]);
    expect(s.bars["safety/db:p"]).toMatchObject({ done: 5600, total: 5600, estimate: false, finished: true });
    expect(s.lines).toEqual(["── Safety backup of the current data x", "── Restoring y"]);
  });

  it("formats sizes and ages", () => {
    expect(human(512)).toBe("512 B");
    expect(human(1536)).toBe("1.5 KiB");
    expect(age(1000, 1000 + 7200)).toBe("2h ago");
  });
});
