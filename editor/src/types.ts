// The JSON the editor's server sends (src/nodeisle/editor/wire.py and session.py).

export interface ParameterSpec {
  name: string;
  type: string;
  default_value: unknown;
  tooltip: string;
  allowed_modes: string[]; // INPUT | OUTPUT | PROPERTY
}

export interface RemoteError {
  type: string;
  message: string;
  traceback: string;
}

export interface Violation {
  rule_id: string;
  severity: string;
  subject: string;
  library: string;
  message: string;
  remediation: string;
}

export interface NodeTypeInfo {
  type: string;
  display_name: string;
  description: string;
  category: string;
  parameters: ParameterSpec[];
  options: Record<string, unknown[]>; // a parameter's Options choices
}

export interface LibraryInfo {
  name: string;
  path: string;
  compatibility: string;
  suggested_mode: string | null;
  effective_mode: string;
  status: string;
  worker_id: string | null;
  worker_state: string | null;
  problems: string[];
  node_types: string[];
}

/** One library of the dependency plan (PlanRequest; docs/environments.md, "The plan"). */
export interface PlanLibrary {
  name: string;
  mode: string;
  can_run_shared: boolean;
  recommended_mode: string;
  reason: string;
}

export interface PlanConflict {
  package: string;
  message: string;
  sides: Record<string, string>[];
}

export interface Plan {
  libraries: PlanLibrary[];
  conflicts: PlanConflict[];
}

export interface LibraryView {
  info: LibraryInfo;
  version: string | null;
  node_types: NodeTypeInfo[];
  mode_locked: string | null;
  mode_reason: string;
  violations: Violation[];
}

export interface NodeView {
  name: string;
  library: string;
  type: string;
  parameters: ParameterSpec[];
  values: Record<string, unknown>;
  outputs: Record<string, unknown>;
}

export interface Connection {
  source_node_name: string;
  source_parameter_name: string;
  target_node_name: string;
  target_parameter_name: string;
}

export interface Position {
  x: number;
  y: number;
}

export interface Snapshot {
  flow: string;
  workflow: string | null;
  libraries: LibraryView[];
  nodes: NodeView[];
  connections: Connection[];
  positions: Record<string, Position>;
  examples?: { libraries: string[]; workflows: string[] }; // the checkout's examples, as suggestions
}

export interface NodeStatus {
  status: string;
  outputs: Record<string, unknown>;
  error: RemoteError | null;
  violations: Violation[];
}

export interface ResultFields {
  succeeded: boolean;
  message: string;
  [field: string]: unknown;
}

export interface ImageValue {
  $type: "image";
  mime: string;
  src: string; // /media/<key>, behind the editor's token
  url?: string; // the file:// URL the output held
}

export type ServerEvent =
  | { event: "ViolationFound"; fields: Violation & { node: string; context: string; at: number } }
  | { event: "NodeStatusChanged"; fields: NodeStatus & { node: string; flow: string; at: number } }
  | { event: "RunFinished"; fields: { flow: string; status: string; message: string; at: number } }
  | { event: "LogLine"; fields: { logger: string; level: string; text: string; at: number } }
  | { event: "EnvBuildProgress"; fields: { library: string; step: string; elapsed_s: number; detail: string; at: number } }
  | { event: "WorkerStateChanged"; fields: { library: string; worker_id: string; state: string; at: number } }
  | { event: "LibraryChanged"; fields: { library: LibraryInfo; removed: boolean; at: number } };
