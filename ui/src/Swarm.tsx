// A swarm stack's nodes, over the diagram: each node with its state (a node that is down is
// red, and so are the tasks it had), and the tasks it runs, by service and slot.
import { rendered } from "./activity";
import type { SwarmState } from "./bindings/SwarmState";

export function SwarmNodes({ state }: { state: SwarmState }) {
  rendered("SwarmNodes");
  return (
    <section className="swarm-nodes" aria-label="Swarm nodes" data-testid="swarm-nodes">
      {state.nodes.map((n) => {
        const up = n.state === "ready";
        const tasks = state.tasks.filter((t) => t.node === n.hostname && t.desired === "running");
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
                return (
                  <li key={t.id} className={`swarm-task swarm-task-${state}`} data-testid={`swarm-task-${t.service}-${t.slot ?? "global"}`} data-state={state} title={t.error ?? t.message ?? undefined}>
                    {t.service}.{t.slot ?? "*"} <span>{state}</span>
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
