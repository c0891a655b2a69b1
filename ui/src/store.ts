// One store for the open stack: which stack and environment, its planned diagram, the live
// state of its containers, drift, the selected service and the banners. Every change goes
// through `reduce`, tested without a window. Resource use is kept apart (`usage.ts`), so that a
// sample redraws its gauges only.
import { useEffect, useReducer, useRef, useState } from "react";
import { apiError, errorText, type Backend } from "./backend";
import type { Boot } from "./boot";
import type { OpenedStack } from "./bindings/OpenedStack";
import type { Reloaded } from "./bindings/Reloaded";
import type { ServiceDrift } from "./bindings/ServiceDrift";
import type { Stacks } from "./bindings/Stacks";
import type { StateEvent } from "./bindings/StateEvent";
import type { SwarmEvent } from "./bindings/SwarmEvent";
import type { SwarmState } from "./bindings/SwarmState";
import type { Theme } from "./bindings/Theme";
import { applyState, tasksAsContainers, type Containers } from "./state";
import { UsageStore } from "./usage";

export interface StackState {
  stacks: Stacks | null;
  stack: string;
  env: string;
  opened: OpenedStack | null;
  /** How many times a stack was opened: the open path runs again when it changes, also for
   * the same stack and environment (opened again on another engine). */
  opening: number;
  containers: Containers;
  /** The nodes and tasks, when the stack runs on a swarm (its tasks are `containers` too). */
  swarm: SwarmState | null;
  engineDown: string | null;
  drift: Record<string, ServiceDrift>;
  selected: string | null;
  /** A message about what just happened, for the stack it happened to. */
  notice: string | null;
  /** An error that is not an operation's (those are the operation's own). */
  error: string | null;
  theme: Theme;
}

export type StackAction =
  | { type: "stacks"; stacks: Stacks }
  | { type: "open"; stack?: string; env?: string; again?: boolean }
  | { type: "opened"; opened: OpenedStack }
  | { type: "reloaded"; event: Reloaded }
  | { type: "state"; event: StateEvent }
  | { type: "swarm"; event: SwarmEvent }
  | { type: "drift"; drift: ServiceDrift[] }
  | { type: "select"; service: string | null }
  | { type: "focus"; stack: string; service: string }
  | { type: "notify"; enabled: boolean }
  | { type: "notice"; text: string | null }
  | { type: "error"; text: string | null }
  | { type: "theme"; theme: Theme };

export const INITIAL: StackState = {
  stacks: null,
  stack: "",
  env: "",
  opened: null,
  opening: 0,
  containers: {},
  swarm: null,
  engineDown: null,
  drift: {},
  selected: null,
  notice: null,
  error: null,
  theme: "system",
};

export function reduce(s: StackState, a: StackAction): StackState {
  switch (a.type) {
    case "stacks":
      return { ...s, stacks: a.stacks, stack: a.stacks.open_stack, env: a.stacks.open_env, theme: a.stacks.theme };
    case "open": {
      const stack = a.stack ?? s.stack;
      const env = a.env ?? s.env;
      if (stack === s.stack && env === s.env && !a.again) return s;
      // What belonged to the stack before (its state, banners, selection) goes with it.
      return { ...INITIAL, stacks: s.stacks, theme: s.theme, stack, env, opening: s.opening + 1, notice: stack === s.stack ? s.notice : null };
    }
    case "opened":
      return { ...s, opened: a.opened, error: null };
    case "reloaded": {
      // The stack's files changed: the diagram as they load now, or why they do not.
      if (a.event.stack !== s.stack || a.event.env !== s.env || !s.opened) return s;
      if (a.event.error) return { ...s, error: errorText(apiError(a.event.error)) };
      return a.event.view ? { ...s, opened: { ...s.opened, view: a.event.view }, error: null } : s;
    }
    case "state":
      if (a.event.stack !== s.stack) return s;
      if (a.event.kind === "engineDown") return { ...s, engineDown: a.event.reason };
      return { ...s, engineDown: null, containers: applyState(s.containers, a.event, s.stack) };
    case "swarm":
      if (a.event.stack !== s.stack) return s;
      return { ...s, swarm: a.event.state, engineDown: a.event.state.error, containers: tasksAsContainers(a.event.state) };
    case "drift": {
      // A service's verdict that did not change keeps its object, and its node is not drawn again.
      const same = (d: ServiceDrift) => s.drift[d.service] && JSON.stringify(s.drift[d.service]) === JSON.stringify(d);
      return { ...s, drift: Object.fromEntries(a.drift.map((d) => [d.service, same(d) ? s.drift[d.service] : d])) };
    }
    case "select":
      return { ...s, selected: a.service };
    case "focus":
      return a.stack === s.stack ? { ...s, selected: a.service } : s;
    case "notify":
      return s.opened ? { ...s, opened: { ...s.opened, notifications: a.enabled } } : s;
    case "notice":
      return { ...s, notice: a.text };
    case "error":
      return { ...s, error: a.text };
    case "theme":
      return { ...s, theme: a.theme };
  }
}

/** The store of the open stack, fed by the app's live events, and its resource use (what the
 * page asked for as it started first, when given). */
export function useStackStore(backend: Backend, boot?: Boot): [StackState, (a: StackAction) => void, UsageStore] {
  // The theme the page was painted in (main.tsx), until the app's store says.
  const [state, dispatch] = useReducer(reduce, INITIAL, (s) => ({ ...s, theme: storedTheme() }));
  const [usage] = useState(() => new UsageStore());
  const stack = useRef(state.stack);
  useEffect(() => {
    stack.current = state.stack;
    usage.clear();
  }, [usage, state.stack, state.opening]);

  // (Declared before the events' effect: when the page's start held a state event, the stacks
  // it belongs to are dispatched first, both answers being there when the store mounts.)
  useEffect(() => {
    (boot?.stacks ?? backend.call("list_stacks", {}))
      .then((stacks) => dispatch({ type: "stacks", stacks }))
      .catch((e) => dispatch({ type: "error", text: apiError(e).message }));
  }, [backend, boot]);

  // The opening the page started, until an open of the store's has answered: its answer (or
  // failure) is used for the stack it asked for; any other stack is opened here.
  const started = useRef(boot?.opened);
  useEffect(() => {
    const { stack, env } = state;
    if (!stack || !env) return;
    // What a stack opened before answers late is dropped.
    let current = true;
    const open = () => backend.call("open_stack", { stack, env });
    const first = started.current;
    const answered = () => {
      if (current) started.current = undefined;
      return current;
    };
    (first ? first.then((b) => (b && b.stack === stack && b.env === env ? b.opened : open()), open) : open())
      .then((opened) => answered() && dispatch({ type: "opened", opened }))
      .catch((e) => answered() && dispatch({ type: "error", text: apiError(e).message }));
    return () => {
      current = false;
    };
  }, [backend, state.stack, state.env, state.opening]);

  useEffect(() => {
    const stops: Promise<() => void>[] = [];
    stops.push(backend.onState((event) => dispatch({ type: "state", event })));
    stops.push(backend.onSwarm((event) => dispatch({ type: "swarm", event })));
    stops.push(backend.onFocus((e) => dispatch({ type: "focus", stack: e.stack, service: e.service })));
    stops.push(backend.onReloaded((event) => dispatch({ type: "reloaded", event })));
    // The app sends a sample only when it moves a gauge visibly (each one for the service in
    // the side panel): each redraws its container's gauges as it comes.
    stops.push(
      backend.onUsage((e) => {
        if (e.stack === stack.current) usage.add(e);
      }),
    );
    return () => stops.forEach((s) => void s.then((stop) => stop()));
  }, [backend, usage]);

  return [state, dispatch, usage];
}

/** Tells the app what the window shows, whenever that changes: whether the page is visible
 * (nothing is sampled or sent to a hidden window, which gets the state when shown again) and
 * the service shown in detail (every sample of it is sent, for its chart). */
export function useScreen(backend: Backend, detailed: string | null) {
  useEffect(() => {
    const report = () => void backend.call("window_shows", { visible: document.visibilityState === "visible", detailed }).catch(() => {});
    report();
    document.addEventListener("visibilitychange", report);
    return () => document.removeEventListener("visibilitychange", report);
  }, [backend, detailed]);
}

/** Checks what runs against what the environment asks for, shortly after the live state
 * changes (containers recreated, started, removed), while no operation runs. */
export function useDrift(backend: Backend, state: StackState, dispatch: (a: StackAction) => void, busy: boolean) {
  const { stack, env, opened, containers } = state;
  useEffect(() => {
    if (!stack || !env || !opened || opened.view.invalid || busy) return;
    const t = setTimeout(() => {
      backend
        .call("stack_drift", { stack, env })
        .then((drift) => dispatch({ type: "drift", drift }))
        .catch(() => dispatch({ type: "drift", drift: [] }));
    }, 800);
    return () => clearTimeout(t);
  }, [backend, stack, env, opened, containers, busy, dispatch]);
}

/** The key under which the page keeps the theme, to paint the first frame in it (main.tsx). */
export const THEME_KEY = "deck-theme";

/** The theme kept in the page's storage (the system's when none is). */
export function storedTheme(): Theme {
  try {
    const t = window.localStorage.getItem(THEME_KEY);
    return t === "light" || t === "dark" ? t : "system";
  } catch {
    return "system";
  }
}

/** Light or dark: the theme chosen, or the system's when that is the choice (followed as it
 * changes). */
export function resolveTheme(theme: Theme, systemDark: boolean): "light" | "dark" {
  return theme === "system" ? (systemDark ? "dark" : "light") : theme;
}

/** Paints the page in `theme`: the root's `data-theme`, light or dark. */
export function paintTheme(theme: Theme) {
  document.documentElement.dataset.theme = resolveTheme(theme, window.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false);
}

/** Paints the page in `theme` (followed when it is the system's and that changes), and keeps it for the next launch's first frame. */
export function useTheme(theme: Theme) {
  useEffect(() => {
    const media = window.matchMedia?.("(prefers-color-scheme: dark)");
    const apply = () => paintTheme(theme);
    apply();
    try {
      window.localStorage.setItem(THEME_KEY, theme);
    } catch {
      // Not kept for the first frame: the app's store still has it.
    }
    media?.addEventListener("change", apply);
    return () => media?.removeEventListener("change", apply);
  }, [theme]);
}
