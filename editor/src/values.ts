import type { ImageValue, ParameterSpec } from "./types";

// How a value is shown on a node: strings and numbers as they are, arrays as dtype and shape, JSON pretty.

export function showValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null || value === undefined) return "null";
  if (typeof value === "object" && (value as Record<string, unknown>)["$type"] === "ndarray") {
    const array = value as { dtype: string; shape: number[] };
    return `array(${array.dtype}, shape=(${array.shape.join(", ")}))`;
  }
  return JSON.stringify(value, null, 2);
}

/** The value a widget's text means for a parameter of this type. */
export function parseValue(type: string, text: string): unknown {
  if (type === "int") {
    const number = Number.parseInt(text, 10);
    return Number.isNaN(number) ? text : number;
  }
  if (type === "float") {
    const number = Number.parseFloat(text);
    return Number.isNaN(number) ? text : number;
  }
  return text;
}

/** A colour per parameter type, the same on every node, so ports that fit look alike. */
export function typeColour(type: string): string {
  if (type === "any") return "#888888";
  let hash = 0;
  for (const char of type) hash = (hash * 31 + char.charCodeAt(0)) % 360;
  return `hsl(${hash}, 65%, 45%)`;
}

/** An output the server recognised as an image (editor/media.py). */
export function isImage(value: unknown): value is ImageValue {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)["$type"] === "image";
}

const CONTROL_TYPES = new Set(["parametercontroltype", "control"]); // node/spec.py CONTROL_TYPES

/** Why the engine would refuse this connection (flow/graph.py connect), or null when it fits. */
export function connectionProblem(from: string, source: ParameterSpec | undefined, to: string, target: ParameterSpec | undefined): string | null {
  if (source === undefined || target === undefined) return null;
  if (!source.allowed_modes.includes("OUTPUT")) return `${from}.${source.name} is not an output`;
  if (!target.allowed_modes.includes("INPUT")) return `${to}.${target.name} is not an input`;
  const control = CONTROL_TYPES.has(source.type.toLowerCase());
  if (control !== CONTROL_TYPES.has(target.type.toLowerCase()))
    return `refused: ${from}.${source.name} is a ${control ? "control" : "data"} output, ${to}.${target.name} a ${control ? "data" : "control"} input`;
  if (!control && source.type !== target.type && source.type !== "any" && target.type !== "any")
    return `refused: type ${source.type} (${from}.${source.name}) does not match ${target.type} (${to}.${target.name}); a connection needs equal types or an 'any' end`;
  return null;
}
