// The editor's page: Libraries and Nodes on the left, the canvas, Logs below; the toolbar runs, opens and saves.
import {
  Background,
  Controls,
  ReactFlow,
  Panel,
  ReactFlowProvider,
  useReactFlow,
  type Connection as FlowConnection,
  type Edge,
  type FinalConnectionState,
  type IsValidConnection,
  type NodeChange,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { EditorNode, NodeActionsContext, type EditorFlowNode } from "./EditorNode";
import { Inspector, Libraries, Logs, Palette, PortTypes } from "./Panels";
import { EditorSocket } from "./socket";
import type { NodeStatus, NodeTypeInfo, NodeView, Plan, Position, ServerEvent, Snapshot, Violation } from "./types";
import { connectionProblem } from "./values";

const NODE_TYPES = { editorNode: EditorNode };
const MAX_LOG_LINES = 2000;
const BURST_WINDOW_MS = 100; // more than BURST_FLUSHES renders of events in this window is a burst
const BURST_FLUSHES = 4;
const NO_VIOLATIONS: never[] = [];
const NO_OPTIONS: Record<string, unknown[]> = {};
const EMPTY: Snapshot = { flow: "", workflow: null, libraries: [], nodes: [], connections: [], positions: {} };

function edgeId(c: { source: string; sourceHandle?: string | null; target: string; targetHandle?: string | null }) {
  return `${c.source}.${c.sourceHandle ?? ""}->${c.target}.${c.targetHandle ?? ""}`;
}

function Editor({ token }: { token: string }) {
  const socketRef = useRef<EditorSocket | null>(null);
  const [snapshot, setSnapshot] = useState<Snapshot>(EMPTY);
  const [statuses, setStatuses] = useState<Record<string, NodeStatus>>({});
  const [positions, setPositions] = useState<Record<string, Position>>({});
  const [selected, setSelected] = useState<Set<string>>(new Set());
  // Sizes React Flow measured: given back on every node object, or it hides the node until it measures again.
  const [measured, setMeasured] = useState<Record<string, { width: number; height: number }>>({});
  const [logs, setLogs] = useState<string[]>([]);
  const [progress, setProgress] = useState<Record<string, string>>({});
  const [message, setMessage] = useState("connecting…");
  const [workflowPath, setWorkflowPath] = useState("");
  const [running, setRunning] = useState(false);
  const [liveViolations, setLiveViolations] = useState<Record<string, Violation[]>>({});
  const [refusal, setRefusal] = useState<{ node: string; parameter: string; message: string } | null>(null);
  const nodesByName = useRef(new Map<string, NodeView>());
  const flow = useReactFlow();
  const pendingEvents = useRef<ServerEvent[]>([]);
  const recentFlushes = useRef<number[]>([]);
  const refreshTimer = useRef<number | null>(null);

  const refresh = useCallback(async () => {
    const socket = socketRef.current;
    if (socket === null) return;
    const next = await socket.editor<Snapshot>("snapshot");
    setSnapshot(next);
    setPositions((old) => ({ ...next.positions, ...old }));
    if (next.workflow) setWorkflowPath((old) => old || next.workflow || "");
  }, []);

  const scheduleRefresh = useCallback(() => {
    if (refreshTimer.current !== null) return;
    refreshTimer.current = window.setTimeout(() => {
      refreshTimer.current = null;
      void refresh();
    }, 50);
  }, [refresh]);

  // A run of 200 nodes is a burst of events: applied once per animation frame, one render each.
  const flushEvents = useCallback(() => {
    recentFlushes.current.push(performance.now());
    const events = pendingEvents.current;
    pendingEvents.current = [];
    const statusUpdates: Record<string, NodeStatus> = {};
    const lines: string[] = [];
    const steps: Record<string, string> = {};
    const found: Record<string, Violation[]> = {};
    for (const event of events) {
      if (event.event === "NodeStatusChanged") statusUpdates[event.fields.node] = event.fields;
      else if (event.event === "ViolationFound" && event.fields.node)
        found[event.fields.node] = [...(found[event.fields.node] ?? []), event.fields];
      else if (event.event === "LogLine") lines.push(event.fields.text);
      else if (event.event === "EnvBuildProgress")
        steps[event.fields.library] = `${event.fields.step} (${event.fields.elapsed_s.toFixed(1)} s) ${event.fields.detail}`.trim();
      else if (event.event === "RunFinished") {
        setMessage(`run ${event.fields.status}: ${event.fields.message}`);
        scheduleRefresh();
      } else scheduleRefresh(); // library and worker changes
    }
    if (Object.keys(statusUpdates).length) setStatuses((old) => ({ ...old, ...statusUpdates }));
    if (Object.keys(found).length)
      setLiveViolations((old) => {
        const next = { ...old };
        for (const [node, list] of Object.entries(found)) next[node] = [...(old[node] ?? []), ...list];
        return next;
      });
    if (lines.length) setLogs((old) => [...old, ...lines].slice(-MAX_LOG_LINES));
    if (Object.keys(steps).length) setProgress((old) => ({ ...old, ...steps }));
  }, [scheduleRefresh]);

  useEffect(() => {
    const socket = new EditorSocket(
      token,
      (event) => {
        // Applied at once, unless events come in a burst (a big run): then once per animation frame.
        if (pendingEvents.current.length === 0) {
          const now = performance.now();
          recentFlushes.current = recentFlushes.current.filter((t) => now - t < BURST_WINDOW_MS);
          if (recentFlushes.current.length < BURST_FLUSHES) queueMicrotask(flushEvents);
          else requestAnimationFrame(flushEvents);
        }
        pendingEvents.current.push(event);
      },
      (why) => setMessage(why),
    );
    socketRef.current = socket;
    refresh()
      .then(() => setMessage("ready"))
      .catch((error: Error) => setMessage(error.message));
    return () => undefined;
  }, [token, refresh, flushEvents]);

  const act = useCallback(
    async (what: () => Promise<{ succeeded?: boolean; message?: string } | unknown>, done?: string) => {
      try {
        const result = (await what()) as { succeeded?: boolean; message?: string } | undefined;
        if (result && result.succeeded === false) setMessage(result.message ?? "failed");
        else if (done) setMessage(done);
      } catch (error) {
        setMessage((error as Error).message);
      }
      await refresh();
    },
    [refresh],
  );

  const socket = () => {
    if (socketRef.current === null) throw new Error("not connected");
    return socketRef.current;
  };

  const addNode = useCallback(
    (library: string, type: NodeTypeInfo, at?: Position) =>
      act(async () => {
        const result = await socket().request("CreateNodeRequest", {
          node_type: type.type,
          library_name: library,
          flow_name: snapshot.flow,
        });
        const name = result.node_name as string | undefined;
        if (result.succeeded && name) {
          const count = snapshot.nodes.length;
          setPositions((old) => ({ ...old, [name]: at ?? { x: 40 + (count % 3) * 460, y: 40 + Math.floor(count / 3) * 320 } }));
        }
        return result;
      }),
    [act, snapshot.flow, snapshot.nodes.length],
  );

  const actions = useMemo(
    () => ({
      setValue: (node: string, parameter: string, value: unknown) =>
        void act(() => socket().request("SetParameterValueRequest", { node_name: node, parameter_name: parameter, value })),
      runNode: (node: string) => {
        setRunning(true);
        setLiveViolations({});
        setMessage(`running ${node} and its upstream…`);
        void act(() => socket().editor("run_node", { node })).finally(() => setRunning(false));
      },
      problem: (source: string, sourceHandle: string | null, target: string, targetHandle: string | null) => {
        const from = nodesByName.current.get(source)?.parameters.find((p) => p.name === sourceHandle);
        const to = nodesByName.current.get(target)?.parameters.find((p) => p.name === targetHandle);
        if (source === target) return "refused: a node cannot feed itself";
        return connectionProblem(source, from, target, to);
      },
    }),
    [act],
  );

  // The dependency plan, asked again whenever a library or its mode changes: shown beside each Mode select.
  const [plan, setPlan] = useState<Plan | null>(null);
  const planKey = snapshot.libraries.map((l) => `${l.info.name}=${l.info.effective_mode}/${l.info.status}`).join(",");
  useEffect(() => {
    const connection = socketRef.current;
    if (!planKey || connection === null) return;
    let current = true;
    connection
      .request("PlanRequest", {})
      .then((fields) => {
        if (current) setPlan(fields as unknown as Plan);
      })
      .catch(() => {
        if (current) setPlan(null); // no plan (uv could not resolve offline, say): the page works without it
      });
    return () => {
      current = false;
    };
  }, [planKey]);

  const typeViolations = useMemo(() => {
    const found = new Map<string, NonNullable<Snapshot["libraries"][number]["violations"]>>();
    for (const library of snapshot.libraries)
      for (const violation of library.violations ?? []) {
        const key = `${violation.library}/${violation.subject}`;
        found.set(key, [...(found.get(key) ?? []), violation]);
      }
    return found;
  }, [snapshot.libraries]);

  const optionsOf = useMemo(() => {
    const found = new Map<string, Record<string, unknown[]>>();
    for (const library of snapshot.libraries)
      for (const type of library.node_types) found.set(`${library.info.name}/${type.type}`, type.options ?? NO_OPTIONS);
    return found;
  }, [snapshot.libraries]);

  // A node object is rebuilt only when something it shows changed, so a status event re-renders one node.
  const nodeCache = useRef(new Map<string, EditorFlowNode>());
  const nodes: EditorFlowNode[] = useMemo(() => {
    const cache = new Map<string, EditorFlowNode>();
    nodesByName.current = new Map(snapshot.nodes.map((n) => [n.name, n]));
    const built = snapshot.nodes.map((node, i) => {
      const position = positions[node.name] ?? { x: 40 + (i % 3) * 460, y: 40 + Math.floor(i / 3) * 320 };
      const status = statuses[node.name];
      const violations = typeViolations.get(`${node.library}/${node.type}`) ?? NO_VIOLATIONS;
      const options = optionsOf.get(`${node.library}/${node.type}`) ?? NO_OPTIONS;
      const isSelected = selected.has(node.name);
      const size = measured[node.name];
      const live = liveViolations[node.name] ?? NO_VIOLATIONS;
      const refused = refusal !== null && refusal.node === node.name ? refusal : null;
      const old = nodeCache.current.get(node.name);
      const same =
        old !== undefined &&
        old.data.node === node &&
        old.data.status === status &&
        old.data.typeViolations === violations &&
        old.data.options === options &&
        old.data.liveViolations === live &&
        old.data.refusal === refused &&
        old.position.x === position.x &&
        old.position.y === position.y &&
        old.measured === size &&
        old.selected === isSelected;
      const next: EditorFlowNode = same
        ? old
        : { id: node.name, type: "editorNode", position, measured: size, selected: isSelected, data: { node, status, typeViolations: violations, liveViolations: live, options, refusal: refused } };
      cache.set(node.name, next);
      return next;
    });
    nodeCache.current = cache;
    return built;
  }, [snapshot.nodes, positions, statuses, selected, typeViolations, optionsOf, measured, liveViolations, refusal]);

  const edges: Edge[] = useMemo(
    () =>
      snapshot.connections.map((c) => {
        const edge = {
          source: c.source_node_name,
          sourceHandle: c.source_parameter_name,
          target: c.target_node_name,
          targetHandle: c.target_parameter_name,
        };
        return { ...edge, id: edgeId(edge) };
      }),
    [snapshot.connections],
  );

  const onNodesChange = useCallback((changes: NodeChange<EditorFlowNode>[]) => {
    for (const change of changes) {
      if (change.type === "dimensions" && change.dimensions) {
        const { id, dimensions } = change;
        setMeasured((old) => ({ ...old, [id]: dimensions }));
      } else if (change.type === "position" && change.position) {
        const { id, position } = change;
        setPositions((old) => ({ ...old, [id]: position }));
      } else if (change.type === "select") {
        const { id, selected: isSelected } = change;
        setSelected((old) => {
          const next = new Set(old);
          if (isSelected) next.add(id);
          else next.delete(id);
          return next;
        });
      }
    }
  }, []);

  // Refused before the drop where the page can tell (types, kinds); the engine's own refusal (a cycle,
  // an input already fed) is shown at the target port too.
  const isValidConnection: IsValidConnection = useCallback(
    (c) => actions.problem(c.source, c.sourceHandle ?? null, c.target, c.targetHandle ?? null) === null,
    [actions],
  );

  const onConnectEnd = useCallback(
    (_event: MouseEvent | TouchEvent, state: FinalConnectionState) => {
      const to = state.toHandle;
      if (state.isValid !== false || to === null || state.fromHandle === null || to.type !== "target") return;
      const why = actions.problem(state.fromHandle.nodeId, state.fromHandle.id ?? null, to.nodeId, to.id ?? null);
      if (why === null) return;
      setRefusal({ node: to.nodeId, parameter: to.id ?? "", message: why });
      setMessage(why);
    },
    [actions],
  );

  const onConnect = useCallback(
    (c: FlowConnection) =>
      void act(async () => {
        const result = await socket().request("CreateConnectionRequest", {
          source_node_name: c.source,
          source_parameter_name: c.sourceHandle,
          target_node_name: c.target,
          target_parameter_name: c.targetHandle,
        });
        if (!result.succeeded) setRefusal({ node: c.target, parameter: c.targetHandle ?? "", message: result.message });
        return result;
      }),
    [act],
  );

  const onDelete = useCallback(
    ({ nodes: gone, edges: cut }: { nodes: EditorFlowNode[]; edges: Edge[] }) =>
      void act(async () => {
        for (const edge of cut) {
          if (gone.some((n) => n.id === edge.source || n.id === edge.target)) continue;
          const result = await socket().request("DeleteConnectionRequest", {
            source_node_name: edge.source,
            source_parameter_name: edge.sourceHandle,
            target_node_name: edge.target,
            target_parameter_name: edge.targetHandle,
          });
          if (!result.succeeded) return result;
        }
        for (const node of gone) {
          const result = await socket().request("DeleteNodeRequest", { node_name: node.id });
          if (!result.succeeded) return result;
        }
        return { succeeded: true };
      }),
    [act],
  );

  // The inspector shows the node selected last (the first of the selection when several are).
  const inspected = useMemo(() => {
    const names = [...selected];
    const name = names[names.length - 1];
    return name === undefined ? undefined : snapshot.nodes.find((n) => n.name === name);
  }, [selected, snapshot.nodes]);

  const run = () => {
    setRunning(true);
    setStatuses({});
    setLiveViolations({});
    setMessage("running…");
    void act(() => socket().request("RunFlowRequest", { flow_name: snapshot.flow })).finally(() => setRunning(false));
  };

  const open = () =>
    void act(async () => {
      const reply = await socket().editor<{ problems: string[] }>("open_workflow", { path: workflowPath });
      setStatuses({});
      setPositions({});
      setMessage(reply.problems.length ? `opened with problems: ${reply.problems.join("; ")}` : `opened ${workflowPath}`);
    });

  const save = () =>
    void act(async () => {
      const reply = await socket().editor<{ path: string }>("save_workflow", { path: workflowPath, positions });
      setMessage(`saved ${reply.path}`);
    });

  const onDrop = (event: React.DragEvent) => {
    const raw = event.dataTransfer.getData("application/x-nodeisle-node");
    if (!raw) return;
    event.preventDefault();
    const { library, type } = JSON.parse(raw) as { library: string; type: string };
    const info = snapshot.libraries.find((l) => l.info.name === library)?.node_types.find((t) => t.type === type);
    if (info) void addNode(library, info, flow.screenToFlowPosition({ x: event.clientX, y: event.clientY }));
  };

  return (
    <NodeActionsContext.Provider value={actions}>
      <div className="editor">
        <header className="toolbar">
          <strong>nodeisle editor</strong>
          <button type="button" onClick={run} disabled={running}>
            Run
          </button>
          <button type="button" onClick={() => void act(() => socket().editor("cancel"), "cancelling…")} disabled={!running}>
            Cancel
          </button>
          <input
            aria-label="Workflow path"
            placeholder="path/to/workflow.json"
            title={(snapshot.examples?.workflows ?? []).length ? `examples: ${(snapshot.examples?.workflows ?? []).join(", ")}` : undefined}
            value={workflowPath}
            onChange={(e) => setWorkflowPath(e.target.value)}
          />
          <button type="button" onClick={open}>
            Open workflow
          </button>
          <button type="button" onClick={save}>
            Save workflow
          </button>
          <span role="status" className="message">
            {message}
          </span>
        </header>
        <aside className="side">
          <Libraries
            libraries={snapshot.libraries}
            examples={snapshot.examples?.libraries ?? []}
            progress={progress}
            plan={plan}
            onMode={(library, mode) => void act(() => socket().editor("set_mode", { library, mode }))}
            onAdd={(path) => void act(() => socket().editor("add_library", { path }), `added ${path}`)}
            onRemove={(library) => void act(() => socket().editor("remove_library", { library }), `removed ${library}`)}
          />
          <Palette libraries={snapshot.libraries} onAdd={(library, type) => void addNode(library, type)} />
          <Inspector node={inspected} connections={snapshot.connections} nodes={nodesByName.current} statuses={statuses} />
        </aside>
        <main className="canvas" aria-label="Canvas" onDragOver={(e) => e.preventDefault()} onDrop={onDrop}>
          <ReactFlow
            nodes={nodes}
            edges={edges}
            nodeTypes={NODE_TYPES}
            onNodesChange={onNodesChange}
            onConnect={onConnect}
            onConnectStart={() => setRefusal(null)}
            onConnectEnd={onConnectEnd}
            isValidConnection={isValidConnection}
            onDelete={onDelete}
            deleteKeyCode={["Delete", "Backspace"]}
            fitView={false}
          >
            <Background />
            <Controls />
            <Panel position="top-right">
              <PortTypes nodes={snapshot.nodes} />
            </Panel>
          </ReactFlow>
        </main>
        <Logs lines={logs} />
      </div>
    </NodeActionsContext.Provider>
  );
}

export function App() {
  const token = new URLSearchParams(location.search).get("token") ?? "";
  return (
    <ReactFlowProvider>
      <Editor token={token} />
    </ReactFlowProvider>
  );
}
