// One node on the canvas: its name, typed ports, a widget per input or property parameter, its status,
// and after a run its outputs, error and strict-mode violations, all as text inside the node's element.
import { Handle, Position, type NodeProps, type Node } from "@xyflow/react";
import { createContext, useContext, useEffect, useState } from "react";
import type { NodeStatus, NodeView, ParameterSpec, Violation } from "./types";
import { parseValue, showValue, typeColour } from "./values";

export interface EditorNodeData extends Record<string, unknown> {
  node: NodeView;
  status: NodeStatus | undefined;
  typeViolations: Violation[];
  options: Record<string, unknown[]>;
}

export type EditorFlowNode = Node<EditorNodeData, "editorNode">;

export interface NodeActions {
  setValue: (node: string, parameter: string, value: unknown) => void;
  runNode: (node: string) => void;
}

export const NodeActionsContext = createContext<NodeActions>({ setValue: () => undefined, runNode: () => undefined });

function isEditable(spec: ParameterSpec): boolean {
  return spec.allowed_modes.includes("INPUT") || spec.allowed_modes.includes("PROPERTY");
}

function Widget({ node, spec, choices }: { node: NodeView; spec: ParameterSpec; choices: unknown[] | undefined }) {
  const { setValue } = useContext(NodeActionsContext);
  const label = `${node.name}.${spec.name}`;
  const current = spec.name in node.values ? node.values[spec.name] : spec.default_value;
  const [text, setText] = useState(current === null || current === undefined ? "" : String(current));
  useEffect(() => setText(current === null || current === undefined ? "" : String(current)), [current]);
  if (choices !== undefined) {
    const index = choices.findIndex((choice) => choice === current);
    return (
      <select
        className="nodrag widget"
        aria-label={label}
        title={spec.tooltip}
        value={index < 0 ? "" : String(index)}
        onChange={(event) => setValue(node.name, spec.name, choices[Number(event.target.value)])}
      >
        {index < 0 && <option value="">{current === null || current === undefined ? "" : String(current)}</option>}
        {choices.map((choice, i) => (
          <option key={i} value={String(i)}>
            {showValue(choice)}
          </option>
        ))}
      </select>
    );
  }
  if (spec.type === "bool") {
    // Shown at once; the engine's answer (its hooks may refuse the value) comes with the next snapshot.
    return (
      <input
        className="nodrag"
        type="checkbox"
        aria-label={label}
        title={spec.tooltip}
        checked={text === "true"}
        onChange={(event) => {
          setText(String(event.target.checked));
          setValue(node.name, spec.name, event.target.checked);
        }}
      />
    );
  }
  const commit = () => {
    const value = parseValue(spec.type, text);
    if (value !== current) setValue(node.name, spec.name, value);
  };
  return (
    <input
      className="nodrag widget"
      type={spec.type === "int" || spec.type === "float" ? "number" : "text"}
      step={spec.type === "float" ? "any" : undefined}
      aria-label={label}
      title={spec.tooltip}
      value={text}
      onChange={(event) => setText(event.target.value)}
      onBlur={commit}
      onKeyDown={(event) => {
        if (event.key === "Enter") commit();
      }}
    />
  );
}

function ViolationList({ violations }: { violations: Violation[] }) {
  if (violations.length === 0) return null;
  return (
    <ul className="violations" aria-label="Violations">
      {violations.map((v, i) => (
        <li key={`${v.rule_id}-${i}`} className={`severity-${v.severity.toLowerCase()}`}>
          <strong>
            [{v.severity}] {v.rule_id}
          </strong>
          : {v.message}
          <div className="remediation">fix: {v.remediation}</div>
        </li>
      ))}
    </ul>
  );
}

export function EditorNode({ data, selected }: NodeProps<EditorFlowNode>) {
  const { node, status } = data;
  const { runNode } = useContext(NodeActionsContext);
  const outputs = status?.status === "succeeded" ? status.outputs : node.outputs;
  const violations = [...data.typeViolations, ...(status?.violations ?? [])];
  return (
    <div
      role="group"
      aria-label={node.name}
      className={`editor-node status-${status?.status ?? "idle"}${selected ? " selected" : ""}`}
    >
      <header>
        <span className="node-name">{node.name}</span>
        <span className="node-type">{node.type}</span>
        <button type="button" className="nodrag run-node" aria-label={`Run ${node.name}`} title="run this node and its upstream" onClick={() => runNode(node.name)}>
          ▶
        </button>
      </header>
      <div className="node-status" aria-label={`Status of ${node.name}`}>
        {status?.status ?? "idle"}
      </div>
      <ul className="parameters">
        {node.parameters.map((spec) => (
          <li key={spec.name} className="parameter" title={spec.tooltip}>
            {spec.allowed_modes.includes("INPUT") && (
              <Handle
                type="target"
                position={Position.Left}
                id={spec.name}
                className={`port type-${spec.type}`}
                title={`${spec.name}: ${spec.type}`}
                style={{ background: typeColour(spec.type) }}
              />
            )}
            <span className="parameter-name">
              {spec.name} <span className="parameter-type">{spec.type}</span>
            </span>
            {isEditable(spec) && <Widget node={node} spec={spec} choices={data.options[spec.name]} />}
            {spec.allowed_modes.includes("OUTPUT") && (
              <Handle
                type="source"
                position={Position.Right}
                id={spec.name}
                className={`port type-${spec.type}`}
                title={`${spec.name}: ${spec.type}`}
                style={{ background: typeColour(spec.type) }}
              />
            )}
          </li>
        ))}
      </ul>
      {Object.keys(outputs).length > 0 && (
        <ul className="outputs" aria-label={`Outputs of ${node.name}`}>
          {Object.entries(outputs).map(([name, value]) => (
            <li key={name}>
              <pre>{`${name}: ${showValue(value)}`}</pre>
            </li>
          ))}
        </ul>
      )}
      {status?.error && status.status === "failed" && (
        <div className="node-error" role="alert">
          <div className="error-headline">
            {status.error.type}: {status.error.message}
          </div>
          {status.error.traceback && <pre className="traceback nowheel">{status.error.traceback}</pre>}
        </div>
      )}
      {status?.error && status.status !== "failed" && <div className="node-note">{status.error.message}</div>}
      <ViolationList violations={violations} />
    </div>
  );
}
