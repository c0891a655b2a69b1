// The page's start. React's first render takes about as long as the app takes to list the
// stacks and open the first one (two calls, one after the other), so the page asks for both
// before that render, and the store takes the answers when it mounts.
import type { Backend } from "./backend";
import type { OpenedStack } from "./bindings/OpenedStack";
import type { PageStart } from "./bindings/PageStart";
import type { Stacks } from "./bindings/Stacks";

export interface Boot {
  stacks: Promise<Stacks>;
  /** The stack asked for, once asked for (null when there is none to open), and the answer. */
  opened: Promise<{ stack: string; env: string; opened: Promise<OpenedStack> } | null>;
}

type Listen<T> = (listener: (e: T) => void) => Promise<() => void>;

/** Events that come before anyone in the page listens to them, kept for the first listener
 * (at most this many of each kind, the oldest dropped first). */
const HELD = 256;

/** One kind of the app's events, listened to from now on: what comes before the page's first
 * listener is held for it. Resolves once the app sends them. */
function fromNow<T>(listen: Listen<T>): [Listen<T>, Promise<unknown>] {
  const listeners = new Set<(e: T) => void>();
  let held: T[] | null = [];
  const ready = listen((e) => {
    if (!held) listeners.forEach((l) => l(e));
    else if (held.push(e) > HELD) held.shift();
  });
  const on: Listen<T> = async (listener) => {
    await ready;
    listeners.add(listener);
    const early = held ?? [];
    held = null;
    early.forEach(listener);
    return () => void listeners.delete(listener);
  };
  return [on, ready];
}

/** The backend with the events that opening a stack brings listened to from now on; and when
 * the app sends them. (Resource samples are not held: the store takes only those of the stack
 * it shows, and the stack's first state brings the next ones.) */
export function listenFromNow(backend: Backend): [Backend, Promise<unknown>] {
  const [onState, state] = fromNow(backend.onState.bind(backend));
  const [onSwarm, swarm] = fromNow(backend.onSwarm.bind(backend));
  const [onFocus, focus] = fromNow(backend.onFocus.bind(backend));
  const [onReloaded, reloaded] = fromNow(backend.onReloaded.bind(backend));
  const listening = Promise.all([state, swarm, focus, reloaded]);
  return [{ call: backend.call.bind(backend), onState, onSwarm, onUsage: backend.onUsage.bind(backend), onFocus, onReloaded }, listening];
}

/** Lists the stacks and opens the one to show first, once the page hears the app's events
 * (the opened stack's live state comes as one). */
export function startBoot(backend: Backend, listening: Promise<unknown>): Boot {
  const stacks = backend.call("list_stacks", {}).then((s) => {
    performance.mark("deck:stacks");
    return s;
  });
  const opened = Promise.all([stacks, listening]).then(([{ open_stack: stack, open_env: env }]) => {
    if (!stack || !env) return null;
    const opened = backend.call("open_stack", { stack, env }).then((o) => {
      performance.mark("deck:opened");
      return o;
    });
    // A failure is the store's to show when it takes the answer.
    opened.catch(() => {});
    return { stack, env, opened };
  });
  // (A failed list is shown as that.)
  opened.catch(() => {});
  return { stacks, opened };
}

/** The page's start as it measured it (when its HTML came, then its marks), for the app's log
 * and `bench/launch.sh`; the marks are cleared. */
export function pageStart(): PageStart {
  const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming | undefined;
  const ours = performance.getEntriesByType("mark").filter((m) => m.name.startsWith("deck:"));
  const marks = ours.map((m) => ({ name: m.name.slice("deck:".length), at: m.startTime }));
  for (const name of new Set(ours.map((m) => m.name))) performance.clearMarks(name);
  return { origin: performance.timeOrigin, marks: nav ? [{ name: "page", at: nav.responseEnd }, ...marks] : marks };
}
