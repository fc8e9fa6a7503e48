// The side regions: Libraries (state, mode, problems, env builds), Nodes (the palette), and Logs.
import { useMemo, useState } from "react";
import { OutputValue, ViolationList } from "./EditorNode";
import type { Connection, LibraryView, NodeStatus, NodeTypeInfo, NodeView, Plan } from "./types";
import { typeColour } from "./values";

export interface LibrariesProps {
  libraries: LibraryView[];
  examples: string[];
  progress: Record<string, string>;
  plan: Plan | null;
  onMode: (library: string, mode: string) => void;
  onAdd: (path: string) => void;
  onRemove: (library: string) => void;
}

function workerText(library: LibraryView): string {
  const info = library.info;
  if (info.effective_mode === "shared") return "in process";
  if (info.status === "failed") return `failed: ${info.problems[0] ?? "unknown reason"}`;
  if (info.worker_id) return `Worker-${info.worker_id} ${info.worker_state ?? ""}`.trim();
  return "starting";
}

function idOf(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, "_");
}

function folderName(path: string): string {
  return path.split(/[\\/]/).filter(Boolean).pop() ?? path;
}

/** What the dependency plan says of ``name``: whether it could run Shared, and the conflicts naming it. */
function planText(plan: Plan | null, name: string): string[] {
  const entry = plan?.libraries.find((l) => l.name === name);
  if (!plan || !entry) return [];
  const named = plan.conflicts.filter((c) => c.sides.some((side) => side.library === name)).map((c) => c.message);
  const lines = entry.can_run_shared ? [] : [`Shared would conflict: ${entry.reason}`];
  if (entry.recommended_mode !== entry.mode) lines.push(`the plan recommends ${entry.recommended_mode}: ${entry.reason}`);
  return [...new Set([...lines, ...named])];
}

export function Libraries({ libraries, examples, progress, plan, onMode, onAdd, onRemove }: LibrariesProps) {
  const registered = new Set(libraries.map((l) => l.info.path.replace(/[\\/]griptape-nodes-library\.json$/, "")));
  const offered = examples.filter((path) => !registered.has(path));
  const [path, setPath] = useState("");
  return (
    <section aria-label="Libraries" className="panel libraries">
      <h2>Libraries</h2>
      <ul>
        {libraries.map((library) => {
          const { info } = library;
          const reasonId = `mode-reason-${idOf(info.name)}`;
          const planId = `mode-plan-${idOf(info.name)}`;
          const planned = planText(plan, info.name);
          return (
            <li key={info.name} aria-label={info.name} className={`library status-${info.status}`}>
              <div className="library-head">
                <strong>{info.name}</strong> <span className="version">{library.version ?? ""}</span>{" "}
                <span className="count">{library.node_types.length} {library.node_types.length === 1 ? "node" : "nodes"}</span>
                <button type="button" className="remove" aria-label={`Remove ${info.name}`} title="unregister this library" onClick={() => onRemove(info.name)}>
                  ×
                </button>
              </div>
              <label>
                Mode{" "}
                <select
                  aria-label={`Mode for ${info.name}`}
                  aria-describedby={planned.length > 0 ? `${reasonId} ${planId}` : reasonId}
                  value={info.effective_mode}
                  disabled={library.mode_locked !== null}
                  onChange={(event) => onMode(info.name, event.target.value)}
                >
                  <option value="shared">Shared</option>
                  <option value="isolated">Isolated</option>
                </select>
              </label>
              <div id={reasonId} className="mode-reason">
                {library.mode_locked ?? library.mode_reason}
              </div>
              {planned.length > 0 && (
                <>
                  <ul className="plan" aria-label={`Plan for ${info.name}`}>
                    {planned.map((line) => (
                      <li key={line}>{line}</li>
                    ))}
                  </ul>
                  <span id={planId} hidden>
                    {planned.join("; ")}
                  </span>
                </>
              )}
              <div className="worker">worker: {workerText(library)}</div>
              {progress[info.name] && <div className="env-progress">env: {progress[info.name]}</div>}
              {library.violations.length > 0 && (
                <details className="library-violations" aria-label={`Violations of ${info.name}`} role="group">
                  <summary>
                    {library.violations.length} strict-mode {library.violations.length === 1 ? "finding" : "findings"} at load:{" "}
                    {[...new Set(library.violations.map((v) => v.rule_id))].join(", ")}
                  </summary>
                  <ViolationList violations={library.violations.map((v) => ({ ...v, message: `${v.subject}: ${v.message}` }))} />
                </details>
              )}
              {info.problems.length > 0 && (
                <ul className="problems" aria-label={`Problems of ${info.name}`}>
                  {info.problems.map((problem, i) => (
                    <li key={i}>
                      <pre>{problem}</pre>
                    </li>
                  ))}
                </ul>
              )}
            </li>
          );
        })}
      </ul>
      <form
        className="add-library"
        onSubmit={(event) => {
          event.preventDefault();
          if (path.trim()) onAdd(path.trim());
        }}
      >
        <input
          aria-label="Library path"
          placeholder="path/to/library (folder or its griptape-nodes-library.json)"
          value={path}
          onChange={(e) => setPath(e.target.value)}
        />
        <button type="submit">Add library</button>
      </form>
      {offered.length > 0 && (
        <div className="examples" aria-label="Example libraries" role="group">
          examples:{" "}
          {offered.map((example) => (
            <button key={example} type="button" aria-label={`Add example ${folderName(example)}`} title={example} onClick={() => onAdd(example)}>
              {folderName(example)}
            </button>
          ))}
        </div>
      )}
    </section>
  );
}

export interface PaletteProps {
  libraries: LibraryView[];
  onAdd: (library: string, type: NodeTypeInfo) => void;
}

export function Palette({ libraries, onAdd }: PaletteProps) {
  const [search, setSearch] = useState("");
  const groups = useMemo(() => {
    const wanted = search.trim().toLowerCase();
    const byCategory = new Map<string, { library: string; type: NodeTypeInfo }[]>();
    for (const library of libraries) {
      for (const type of library.node_types) {
        const text = `${type.display_name} ${type.type} ${type.category} ${library.info.name}`.toLowerCase();
        if (wanted && !text.includes(wanted)) continue;
        const key = type.category;
        byCategory.set(key, [...(byCategory.get(key) ?? []), { library: library.info.name, type }]);
      }
    }
    return [...byCategory.entries()].sort(([a], [b]) => a.localeCompare(b));
  }, [libraries, search]);
  return (
    <section aria-label="Nodes" className="panel palette">
      <h2>Nodes</h2>
      <input type="search" aria-label="Search nodes" placeholder="Search nodes" value={search} onChange={(e) => setSearch(e.target.value)} />
      {groups.map(([category, entries]) => (
        <div key={category} className="category">
          <h3>{category}</h3>
          {entries.map(({ library, type }) => (
            <button
              key={`${library}/${type.type}`}
              type="button"
              title={`${type.description} (${library})`}
              draggable
              onDragStart={(event) => event.dataTransfer.setData("application/x-nodeisle-node", JSON.stringify({ library, type: type.type }))}
              onClick={() => onAdd(library, type)}
            >
              {type.display_name}
            </button>
          ))}
        </div>
      ))}
    </section>
  );
}

export function Logs({ lines }: { lines: string[] }) {
  return (
    <section aria-label="Logs" className="panel logs">
      <h2>Logs</h2>
      <pre className="log-lines">{lines.join("\n")}</pre>
    </section>
  );
}

export interface InspectorProps {
  node: NodeView | undefined;
  connections: Connection[];
  nodes: Map<string, NodeView>;
  statuses: Record<string, NodeStatus>;
}

/** The selected node's last inputs (its values, or what its upstream gave) and its last outputs. */
export function Inspector({ node, connections, nodes, statuses }: InspectorProps) {
  if (node === undefined)
    return (
      <section aria-label="Inspector" className="panel inspector">
        <h2>Inspector</h2>
        <p className="hint">Select a node to see its last inputs and outputs.</p>
      </section>
    );
  const outputOf = (name: string, parameter: string): unknown => {
    const status = statuses[name];
    if (status?.status === "succeeded" && parameter in status.outputs) return status.outputs[parameter];
    return nodes.get(name)?.outputs[parameter];
  };
  const inputs = node.parameters
    .filter((p) => p.allowed_modes.includes("INPUT") || p.allowed_modes.includes("PROPERTY"))
    .map((p) => {
      const feed = connections.find((c) => c.target_node_name === node.name && c.target_parameter_name === p.name);
      if (feed !== undefined)
        return { name: p.name, value: outputOf(feed.source_node_name, feed.source_parameter_name), from: `${feed.source_node_name}.${feed.source_parameter_name}` };
      return { name: p.name, value: p.name in node.values ? node.values[p.name] : p.default_value, from: null };
    });
  const status = statuses[node.name];
  const outputs = status?.status === "succeeded" ? status.outputs : node.outputs;
  return (
    <section aria-label="Inspector" className="panel inspector">
      <h2>Inspector: {node.name}</h2>
      <div className="hint">
        {node.library} / {node.type} · {status?.status ?? "not run"}
      </div>
      <h3>Inputs</h3>
      <ul aria-label={`Inputs of ${node.name}`}>
        {inputs.map((input) => (
          <li key={input.name} title={input.from ? `from ${input.from}` : "its own value"}>
            <OutputValue node={node.name} name={input.from ? `${input.name} (from ${input.from})` : input.name} value={input.value ?? null} />
          </li>
        ))}
      </ul>
      <h3>Outputs</h3>
      <ul aria-label={`Last outputs of ${node.name}`}>
        {Object.keys(outputs).length === 0 && <li className="hint">none yet: run it</li>}
        {Object.entries(outputs).map(([name, value]) => (
          <li key={name}>
            <OutputValue node={node.name} name={name} value={value} />
          </li>
        ))}
      </ul>
      {status?.error && (
        <pre className="traceback">{`${status.error.type}: ${status.error.message}\n${status.error.traceback}`}</pre>
      )}
    </section>
  );
}

/** The legend of port colours: each parameter type on the canvas, in the colour of its ports. */
export function PortTypes({ nodes }: { nodes: NodeView[] }) {
  const types = useMemo(() => {
    const found = new Set<string>();
    for (const node of nodes) for (const p of node.parameters) found.add(p.type);
    return [...found].sort();
  }, [nodes]);
  if (types.length === 0) return null;
  return (
    <ul className="port-types" aria-label="Port types" title="a connection needs equal types or an 'any' end">
      {types.map((type) => (
        <li key={type}>
          <span className="swatch" style={{ background: typeColour(type) }} /> {type}
        </li>
      ))}
    </ul>
  );
}
