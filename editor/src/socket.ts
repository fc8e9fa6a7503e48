// One WebSocket to the editor's server: requests by class name (answered with their Result), editor
// actions (answered with a reply), and events pushed by the engine.
import type { ResultFields, ServerEvent } from "./types";

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

export class EditorSocket {
  private socket: WebSocket;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private opened: Promise<void>;

  constructor(token: string, onEvent: (event: ServerEvent) => void, onClose: (why: string) => void) {
    const url = `ws://${location.host}/ws?token=${encodeURIComponent(token)}`;
    this.socket = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.socket.addEventListener("open", () => resolve());
      this.socket.addEventListener("error", () => reject(new Error("the editor's socket could not connect")));
    });
    this.socket.addEventListener("close", () => {
      for (const pending of this.pending.values()) pending.reject(new Error("the editor stopped"));
      this.pending.clear();
      onClose("the connection to the editor closed: it stopped, or the token is wrong");
    });
    this.socket.addEventListener("message", (message: MessageEvent<string>) => {
      const data = JSON.parse(message.data) as Record<string, unknown>;
      if ("event" in data) {
        onEvent(data as unknown as ServerEvent);
        return;
      }
      if ("events" in data) {
        for (const event of data.events as ServerEvent[]) onEvent(event);
        return;
      }
      const pending = this.pending.get(data.id as number);
      if (pending === undefined) return;
      this.pending.delete(data.id as number);
      if ("error" in data) pending.reject(new Error(String(data.error)));
      else if ("result" in data) pending.resolve(data.fields);
      else pending.resolve(data.reply);
    });
  }

  private async send(message: Record<string, unknown>): Promise<unknown> {
    await this.opened;
    const id = this.nextId++;
    const answer = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.socket.send(JSON.stringify({ ...message, id }));
    return answer;
  }

  /** A request of nodeisle.requests, by class name and fields; resolves with its Result's fields. */
  request(name: string, fields: Record<string, unknown> = {}): Promise<ResultFields> {
    return this.send({ request: name, fields }) as Promise<ResultFields>;
  }

  /** An editor action (snapshot, open_workflow, save_workflow, add_library, set_mode). */
  editor<T>(action: string, fields: Record<string, unknown> = {}): Promise<T> {
    return this.send({ editor: action, fields }) as Promise<T>;
  }
}
