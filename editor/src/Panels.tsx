// The side regions: Libraries (state, mode, problems, env builds), Nodes (the palette), and Logs.
import { useMemo, useState } from "react";
import type { LibraryView, NodeTypeInfo } from "./types";

export interface LibrariesProps {
  libraries: LibraryView[];
  progress: Record<string, string>;
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

export function Libraries({ libraries, progress, onMode, onAdd, onRemove }: LibrariesProps) {
  const [path, setPath] = useState("");
  return (
    <section aria-label="Libraries" className="panel libraries">
      <h2>Libraries</h2>
      <ul>
        {libraries.map((library) => {
          const { info } = library;
          const reasonId = `mode-reason-${idOf(info.name)}`;
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
                  aria-describedby={reasonId}
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
              <div className="worker">worker: {workerText(library)}</div>
              {progress[info.name] && <div className="env-progress">env: {progress[info.name]}</div>}
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
        <input aria-label="Library path" placeholder="path/to/library" value={path} onChange={(e) => setPath(e.target.value)} />
        <button type="submit">Add library</button>
      </form>
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
