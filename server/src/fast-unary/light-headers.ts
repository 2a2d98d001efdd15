import type { IncomingHttpHeaders } from "node:http";

/**
 * A Headers for the unary fast path: a plain Map of lower-cased names, over a node request's
 * headers (HTTP/2 pseudo-headers left out, as connect-node does) or empty. The platform
 * Headers validates every name and value through WebIDL on each call, which was a measurable
 * share of a small unary call; these names and values come from node's parser or from our own
 * code, so they are already valid. A request's headers are read where node left them, and
 * copied into the Map only if something changes or lists them (most calls only read a few).
 */
export class LightHeaders implements Headers {
  #init: IncomingHttpHeaders | undefined;
  #own: Map<string, string> | undefined;

  constructor(init?: IncomingHttpHeaders) {
    this.#init = init;
  }

  /** The Map, made from the request's headers on first need. */
  get #map(): Map<string, string> {
    if (this.#own) return this.#own;
    const map = new Map<string, string>();
    const init = this.#init;
    if (init) {
      for (const name in init) {
        if (name.charCodeAt(0) === 58 /* ":" */) continue;
        const value = init[name];
        if (value === undefined) continue;
        map.set(name, Array.isArray(value) ? value.join(", ") : value);
      }
      this.#init = undefined;
    }
    this.#own = map;
    return map;
  }

  /** A request header's value as the Map would hold it, read without making the Map. */
  #initial(key: string): string | undefined {
    if (key.charCodeAt(0) === 58 /* ":" */) return undefined;
    const value = (this.#init as IncomingHttpHeaders)[key];
    if (typeof value === "string") return value;
    return Array.isArray(value) ? value.join(", ") : undefined;
  }

  append(name: string, value: string): void {
    const key = name.toLowerCase();
    const prev = this.#map.get(key);
    this.#map.set(key, prev === undefined ? String(value) : `${prev}, ${value}`);
  }

  delete(name: string): void {
    this.#map.delete(name.toLowerCase());
  }

  get(name: string): string | null {
    const key = name.toLowerCase();
    if (this.#init) return this.#initial(key) ?? null;
    return this.#map.get(key) ?? null;
  }

  getSetCookie(): string[] {
    const value = this.#map.get("set-cookie");
    return value === undefined ? [] : [value];
  }

  has(name: string): boolean {
    const key = name.toLowerCase();
    if (this.#init) return this.#initial(key) !== undefined;
    return this.#map.has(key);
  }

  set(name: string, value: string): void {
    this.#map.set(name.toLowerCase(), String(value));
  }

  forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    for (const [key, value] of this.#sorted()) callback.call(thisArg, value, key, this);
  }

  entries(): IterableIterator<[string, string]> {
    return this.#sorted()[Symbol.iterator]();
  }

  keys(): IterableIterator<string> {
    return this.#sorted()
      .map(([key]) => key)
      [Symbol.iterator]();
  }

  values(): IterableIterator<string> {
    return this.#sorted()
      .map(([, value]) => value)
      [Symbol.iterator]();
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  /** Number of distinct names. */
  get size(): number {
    return this.#map.size;
  }

  /** The entries as a node headers object, `prefix` added to each name (e.g. "trailer-"). */
  copyTo(target: Record<string, string>, prefix = ""): void {
    // An empty set never written to (a call's trailers, usually) has nothing to copy.
    if (!this.#own && !this.#init) return;
    for (const [key, value] of this.#map) target[prefix + key] = value;
  }

  /** Iteration is in name order, as for the platform Headers. */
  #sorted(): [string, string][] {
    return [...this.#map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}
