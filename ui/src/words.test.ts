import { describe, expect, it } from "vitest";
import { forWindow } from "./words";

describe("messages for the window", () => {
  it("say what to press instead of what to type", () => {
    expect(forWindow("start the stack first (`sirius-deck up`)")).toBe("start the stack first (Up)");
    expect(forWindow("run `sirius-deck restore 2026-11-30T08-00-00` once the cause is fixed")).toBe("run Restore on set 2026-11-30T08-00-00 under Backups once the cause is fixed");
    expect(forWindow("build them first (`sirius-deck build`)")).toBe("build them first (Up, which builds what is missing)");
    expect(forWindow("Choose with `sirius-deck recover restore --resume`, `--roll-back` or `--discard` (or in the window)")).toBe("Choose with Resume, Roll back or Discard under Backups");
  });
});
