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
