// The stack picker's menu: add a stack from a folder of compose files (the system's dialog, then
// each environment's files, detected and changeable), rename or remove one of the user's own.
import { useRef, useState } from "react";
import { apiError, errorText, type Backend } from "./backend";
import type { Detected } from "./bindings/Detected";
import type { StackSummary } from "./bindings/StackSummary";

/** Where the user's choice leads: the list to reload, and the stack to open (if any). */
export type StackChanged = (open: { stack: string; env: string } | null) => void;

/** The form of a stack to add: its name, the files of each environment, the first one. */
function AddStack({ backend, found, onDone, onCancel }: { backend: Backend; found: Detected; onDone: (added: StackSummary) => void; onCancel: () => void }) {
  const [name, setName] = useState(found.name);
  const [envs, setEnvs] = useState<Record<string, string[]>>(() => (Object.keys(found.envs).length ? (found.envs as Record<string, string[]>) : { dev: found.files.slice(0, 1) }));
  const [first, setFirst] = useState(() => ("dev" in envs ? "dev" : (Object.keys(envs)[0] ?? "dev")));
  const [error, setError] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);

  const toggle = (env: string, file: string) =>
    setEnvs((e) => {
      const had = e[env] ?? [];
      // The files keep the folder's order (base files first), as compose merges them.
      const next = had.includes(file) ? had.filter((f) => f !== file) : found.files.filter((f) => f === file || had.includes(f));
      return { ...e, [env]: next };
    });

  const add = async () => {
    setAdding(true);
    setError(null);
    try {
      const chosen = Object.fromEntries(Object.entries(envs).filter(([, files]) => files.length > 0));
      onDone(await backend.call("stack_add", { name, envs: chosen, defaultEnv: first }));
    } catch (e) {
      setError(errorText(apiError(e)));
    } finally {
      setAdding(false);
    }
  };

  return (
    <div className="add-stack" role="dialog" aria-label="Add a stack" data-testid="add-stack">
      <h2>Add a stack</h2>
      <p className="muted">{found.folder}</p>
      {found.files.length === 0 ? (
        <p className="bad">No compose file here (compose.yaml, docker-compose.yml, *.dev.*, *.prod.*): choose another folder.</p>
      ) : (
        <>
          <label>
            Name <input data-testid="add-name" value={name} onChange={(e) => setName(e.target.value)} />
          </label>
          <table>
            <thead>
              <tr>
                <th>Environment</th>
                {found.files.map((f) => (
                  <th key={f}>
                    <code>{f}</code>
                  </th>
                ))}
                <th>Opened first</th>
              </tr>
            </thead>
            <tbody>
              {Object.keys(envs).map((env) => (
                <tr key={env}>
                  <td>{env}</td>
                  {found.files.map((f) => (
                    <td key={f}>
                      <input type="checkbox" aria-label={`${env}: ${f}`} checked={envs[env].includes(f)} onChange={() => toggle(env, f)} />
                    </td>
                  ))}
                  <td>
                    <input type="radio" name="first-env" aria-label={`open ${env} first`} checked={first === env} onChange={() => setFirst(env)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {error && (
        <pre className="bad" role="alert" data-testid="add-error">
          {error}
        </pre>
      )}
      <div className="actions">
        <button data-testid="add-confirm" className="primary" onClick={add} disabled={adding || found.files.length === 0 || !name}>
          {adding ? "Adding…" : "Add"}
        </button>
        <button onClick={onCancel}>Cancel</button>
      </div>
    </div>
  );
}

export function StackMenu({ backend, current, disabled, onChanged }: { backend: Backend; current: StackSummary | undefined; disabled: boolean; onChanged: StackChanged }) {
  const [found, setFound] = useState<Detected | null>(null);
  const [renaming, setRenaming] = useState<string | null>(null);
  const [removing, setRemoving] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const fail = (e: unknown) => setMessage(apiError(e).message);
  const menu = useRef<HTMLDetailsElement>(null);

  const choose = async () => {
    setMessage(null);
    if (menu.current) menu.current.open = false;
    try {
      const detected = await backend.call("stack_folder_choose", {});
      if (detected) setFound(detected);
    } catch (e) {
      fail(e);
    }
  };
  const rename = async () => {
    if (!current || renaming === null) return;
    try {
      const renamed = await backend.call("stack_rename", { stack: current.name, to: renaming });
      setRenaming(null);
      onChanged({ stack: renamed.name, env: renamed.default_env });
    } catch (e) {
      fail(e);
    }
  };
  const remove = async () => {
    if (!current) return;
    try {
      const kept = await backend.call("stack_remove", { stack: current.name });
      setRemoving(false);
      setMessage(kept ? `Removed ${current.name}; its folder ${kept} keeps its other files.` : `Removed ${current.name}; its compose files are where they were.`);
      onChanged(null);
    } catch (e) {
      fail(e);
    }
  };

  return (
    <>
      <details className="menu stack-menu" ref={menu}>
        <summary aria-label="stack actions" data-testid="stack-menu" title="Add, rename or remove a stack">
          ⋯
        </summary>
        <div className="menu-body stack-menu-body">
          <button data-testid="add-stack-open" onClick={choose} disabled={disabled}>
            Add a stack…
          </button>
          {current?.own && (
            <>
              {renaming === null ? (
                <button onClick={() => setRenaming(current.name)} disabled={disabled}>
                  Rename…
                </button>
              ) : (
                <span>
                  <input aria-label="new name" value={renaming} onChange={(e) => setRenaming(e.target.value)} />
                  <button onClick={rename}>Rename</button>
                </span>
              )}
              {removing ? (
                <span>
                  Remove {current.name}? Its compose files stay. <button onClick={remove}>Remove</button> <button onClick={() => setRemoving(false)}>Keep</button>
                </span>
              ) : (
                <button onClick={() => setRemoving(true)} disabled={disabled}>
                  Remove…
                </button>
              )}
            </>
          )}
          {message && (
            <p className="muted" role="status" data-testid="stack-menu-message">
              {message}
            </p>
          )}
        </div>
      </details>
      {found && (
        <AddStack
          key={found.folder}
          backend={backend}
          found={found}
          onCancel={() => setFound(null)}
          onDone={(added) => {
            setFound(null);
            onChanged({ stack: added.name, env: added.default_env });
          }}
        />
      )}
    </>
  );
}
