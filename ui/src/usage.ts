// Resource use of the open stack's containers, outside the window's state: a sample redraws the
// gauges and the chart of its container only (each subscribes to its own), never the diagram.
import { useCallback, useSyncExternalStore } from "react";
import type { UsageEvent } from "./bindings/UsageEvent";
import { addSample, type UsageHistory } from "./state";

export class UsageStore {
  private history = new Map<string, UsageHistory>();
  private listeners = new Map<string, Set<() => void>>();

  /** Adds a sample and redraws what shows its container. */
  add(e: UsageEvent) {
    this.history.set(e.container, addSample(this.history.get(e.container), e.cpu_percent, e.memory_bytes, e.near_memory_limit));
    this.listeners.get(e.container)?.forEach((l) => l());
  }

  /** Forgets every container (another stack was opened). */
  clear() {
    const had = [...this.history.keys()];
    this.history.clear();
    had.forEach((c) => this.listeners.get(c)?.forEach((l) => l()));
  }

  get(container: string): UsageHistory | undefined {
    return this.history.get(container);
  }

  subscribe(container: string, listener: () => void): () => void {
    const set = this.listeners.get(container) ?? new Set();
    set.add(listener);
    this.listeners.set(container, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(container);
    };
  }
}

/** The recent use of a container (none given: nothing), redrawn when a sample of it comes. */
export function useUsage(store: UsageStore, container: string | undefined): UsageHistory | undefined {
  const subscribe = useCallback((l: () => void) => (container ? store.subscribe(container, l) : () => {}), [store, container]);
  const get = useCallback(() => (container ? store.get(container) : undefined), [store, container]);
  return useSyncExternalStore(subscribe, get);
}
