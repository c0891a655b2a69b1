// What a service's containers run, as the engine's inspect says: environment (secret values
// masked, each shown on demand), mounts, networks with addresses, ports, labels, the command and
// entrypoint as run, the image's build target. Copyable as JSON (with the masks).
import { useEffect, useState } from "react";
import { apiError, type Backend } from "./backend";
import type { Inspection } from "./bindings/Inspection";

const MASK = "••••••••";

/** Copies text to the clipboard (the page's own way when the clipboard API is refused). */
async function copy(text: string) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
}

export function Inspect({ backend, stack, env, service, revision }: { backend: Backend; stack: string; env: string; service: string; revision?: string }) {
  const [found, setFound] = useState<Inspection[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Values shown on demand, by container and variable.
  const [revealed, setRevealed] = useState<Record<string, string>>({});

  useEffect(() => {
    let live = true;
    setRevealed({});
    backend
      .call("service_inspect", { stack, env, service })
      .then((r) => live && (setFound(r), setError(null)))
      .catch((e) => live && setError(apiError(e).message));
    return () => {
      live = false;
    };
  }, [backend, stack, env, service, revision]);

  const reveal = (container: string, name: string) => {
    const key = `${container}/${name}`;
    if (revealed[key] !== undefined) {
      setRevealed(({ [key]: _, ...rest }) => rest);
      return;
    }
    backend
      .call("env_reveal", { stack, env, container, name })
      .then((value) => setRevealed((r) => ({ ...r, [key]: value })))
      .catch((e) => setError(apiError(e).message));
  };

  if (error) return <p className="bad">{error}</p>;
  if (!found) return <p className="muted">Reading…</p>;
  if (found.length === 0) return <p className="muted">No container: not created yet.</p>;
  return (
    <>
      {found.map((i) => (
        <section key={i.id} className="inspect" data-testid={`inspect-${i.container}`}>
          <div className="inspect-head">
            <strong>{i.container}</strong>
            <button onClick={() => void copy(JSON.stringify(i, null, 2))} title="Copy as JSON (secret values stay masked)">
              Copy
            </button>
          </div>
          <dl>
            <dt>Image</dt>
            <dd>{i.image}</dd>
            <dt>Build target</dt>
            <dd>{i.build_target ?? "-"}</dd>
            <dt>Entrypoint</dt>
            <dd>
              <code>{i.entrypoint.join(" ") || "-"}</code>
            </dd>
            <dt>Command</dt>
            <dd>
              <code>{i.command.join(" ") || "-"}</code>
            </dd>
            {i.working_dir && (
              <>
                <dt>Working dir</dt>
                <dd>{i.working_dir}</dd>
              </>
            )}
            {i.user && (
              <>
                <dt>User</dt>
                <dd>{i.user}</dd>
              </>
            )}
            <dt>Restart</dt>
            <dd>{i.restart_policy ?? "-"}</dd>
            <dt>Ports</dt>
            <dd>{i.ports.join(", ") || "-"}</dd>
            <dt>Networks</dt>
            <dd>
              {i.networks.map((n) => (
                <div key={n.name}>
                  {n.name}
                  {n.ip ? `: ${n.ip}` : ""}
                  {n.aliases.length ? <span className="muted"> ({n.aliases.join(", ")})</span> : null}
                </div>
              ))}
            </dd>
            <dt>Mounts</dt>
            <dd>
              {i.mounts.length === 0
                ? "-"
                : i.mounts.map((m) => (
                    <div key={m.destination}>
                      {m.kind} {m.source} → {m.destination}
                      {m.read_only ? " (read-only)" : ""}
                    </div>
                  ))}
            </dd>
          </dl>
          <h4>Environment</h4>
          <table className="env">
            <tbody>
              {i.env.map((v) => {
                const key = `${i.container}/${v.name}`;
                const value = revealed[key] ?? v.value ?? MASK;
                return (
                  <tr key={v.name} data-testid={`env-${v.name}`}>
                    <th scope="row">{v.name}</th>
                    <td>
                      <code>{value}</code>
                      {v.masked && (
                        <button className="small" onClick={() => reveal(i.container, v.name)} aria-label={`${revealed[key] !== undefined ? "Hide" : "Show"} ${v.name}`}>
                          {revealed[key] !== undefined ? "Hide" : "Show"}
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          {Object.keys(i.labels).length > 0 && (
            <details>
              <summary>Labels ({Object.keys(i.labels).length})</summary>
              <table className="env">
                <tbody>
                  {Object.entries(i.labels).map(([k, v]) => (
                    <tr key={k}>
                      <th scope="row">{k}</th>
                      <td>
                        <code>{v}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </details>
          )}
        </section>
      ))}
    </>
  );
}
