// Messages as the window's user reads them. The core writes its errors for both of its faces;
// where one tells a terminal's user what to type, the window says what to press instead.

const FOR_WINDOW: [RegExp, string][] = [
  [/`sirius-deck recover restore --resume`, `--roll-back` or `--discard` \(or in the window\)/g, "Resume, Roll back or Discard under Backups"],
  [/`sirius-deck restore ([^`]+)`/g, "Restore on set $1 under Backups"],
  [/The next `sirius-deck backup` \(or a backup from the window\)/g, "The next backup"],
  [/\(`sirius-deck up`\)/g, "(Up)"],
  [/\(start them with `sirius-deck up`\)/g, "(start them with Up)"],
  [/`sirius-deck build`/g, "Up, which builds what is missing"],
  [/`sirius-deck up`/g, "Up"],
];

/** `text` with each command-line hint replaced by what to do in the window. */
export function forWindow(text: string): string {
  return FOR_WINDOW.reduce((t, [pattern, replacement]) => t.replace(pattern, replacement), text);
}

/** Why the engine cannot be reached, as a person can act on it; the engine's own words apart. */
export function engineDownText(reason: string): { message: string; detail: string } {
  const permission = /permission denied/i.test(reason);
  return {
    message: permission
      ? "Sirius Deck is not allowed to talk to the Docker engine. Add your user to the docker group (then log in again), or run Docker rootless; this clears by itself once it can."
      : "Sirius Deck cannot reach the Docker engine. Start Docker (for example: sudo systemctl start docker); this clears by itself once the engine answers.",
    detail: reason,
  };
}
