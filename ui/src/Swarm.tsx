// A swarm stack's nodes, over the diagram: each node with its state (a node that is down is
// red, and so are the tasks it had), and the tasks it runs, by service and slot, each running
// one with its CPU and memory gauges (sampled on its node).
import { rendered } from "./activity";
import type { ServiceNode } from "./bindings/ServiceNode";
import type { SwarmState } from "./bindings/SwarmState";
import { Gauges } from "./Diagram";
import type { UsageStore } from "./usage";

export function SwarmNodes({ state, services, usage }: { state: SwarmState; services: ServiceNode[]; usage: UsageStore }) {
  rendered("SwarmNodes");
  return (
    <section className="swarm-nodes" aria-label="Swarm nodes" data-testid="swarm-nodes">
      {state.nodes.map((n) => {
        const up = n.state === "ready";
        // A node that is down: also the tasks it ran when it went away (the swarm has already
        // replaced them elsewhere, so they are no longer meant to run).
        const tasks = state.tasks.filter((t) => t.node === n.hostname && (t.desired === "running" || (!up && t.state === "running")));
        return (
          <div key={n.id} className={`swarm-node${up ? "" : " swarm-node-down"}`} data-testid={`swarm-node-${n.hostname}`} data-state={n.state}>
            <div className="swarm-node-head">
              <span className="dot" /> <strong>{n.hostname}</strong>
              {n.manager && <span className="badge">{n.leader ? "leader" : "manager"}</span>}{" "}
              <span className="swarm-node-state">
                {n.state}
                {n.availability !== "active" ? ` · ${n.availability}` : ""}
              </span>
            </div>
            <ul>
              {tasks.map((t) => {
                const state = up ? t.state : "lost";
                const svc = services.find((s) => s.name === t.service);
                return (
                  <li key={t.id} className={`swarm-task swarm-task-${state}`} data-testid={`swarm-task-${t.service}-${t.slot ?? "global"}`} data-state={state} title={t.error ?? t.message ?? undefined}>
                    {t.service}.{t.slot ?? "*"} <span>{state}</span>
                    {state === "running" && svc && <Gauges svc={svc} container={t.name} usage={usage} />}
                  </li>
                );
              })}
              {tasks.length === 0 && <li className="swarm-task">no task</li>}
            </ul>
          </div>
        );
      })}
      {state.error && (
        <p className="bad" role="alert">
          {state.error}
        </p>
      )}
    </section>
  );
}
