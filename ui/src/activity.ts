// What the page does, counted: renders per component, timer and animation-frame callbacks, and
// messages from the app. An idle window does none of it; the window test reads these counts
// (`window.__deckActivity`) to prove it, and they show where the work goes when it does not.

export interface Activity {
  /** Renders by component. */
  renders: Record<string, number>;
  /** setTimeout, setInterval and requestAnimationFrame callbacks run. */
  timers: number;
  /** Messages received from the app, by event name ("channel" for a command's channel). */
  received: Record<string, number>;
}

export const activity: Activity = { renders: {}, timers: 0, received: {} };

/** Counts one render of `component` (call it in the component's body). */
export function rendered(component: string) {
  activity.renders[component] = (activity.renders[component] ?? 0) + 1;
}

/** Counts one message from the app. */
export function received(kind: string) {
  activity.received[kind] = (activity.received[kind] ?? 0) + 1;
}

/** Counts every timer and animation-frame callback the page runs from now on. */
export function countTimers(w: Window & typeof globalThis) {
  type Callback = (...args: unknown[]) => void;
  const counted =
    (f: TimerHandler): TimerHandler =>
    (...args: unknown[]) => {
      activity.timers += 1;
      if (typeof f === "function") (f as Callback)(...args);
    };
  const [timeout, interval, frame] = [w.setTimeout.bind(w), w.setInterval.bind(w), w.requestAnimationFrame.bind(w)];
  w.setTimeout = ((f: TimerHandler, ms?: number, ...args: unknown[]) => timeout(counted(f), ms, ...args)) as typeof w.setTimeout;
  w.setInterval = ((f: TimerHandler, ms?: number, ...args: unknown[]) => interval(counted(f), ms, ...args)) as typeof w.setInterval;
  w.requestAnimationFrame = (f: FrameRequestCallback) => frame(counted(f) as FrameRequestCallback);
  (w as unknown as { __deckActivity: Activity }).__deckActivity = activity;
}
