import type { PGlite, Transaction } from "@electric-sql/pglite";
import { context, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import type { Sql } from "postgres";

/**
 * What the database layer reports: work holding or waiting for a connection (neither driver
 * exposes pool statistics, so this counts it at the driver's door), and, when tracing is on,
 * a client span per transaction and per statement, children of the active (call) span.
 */
export interface DatabaseUsage {
  /** Transactions and statements outside transactions now in flight on this instance. */
  inFlight(): number;
}

export interface Instruments extends DatabaseUsage {
  /** Set when tracing is configured; undefined keeps the wrappers to a counter. */
  readonly tracer: Tracer | undefined;
  /** Counts `run` as in flight until it settles, in a span named `kind` when tracing. */
  track<T>(kind: string, statement: string | undefined, run: () => PromiseLike<T>): Promise<T>;
}

export function createInstruments(tracer: Tracer | undefined): Instruments {
  let inFlight = 0;
  return {
    tracer,
    inFlight: () => inFlight,
    async track(kind, statement, run) {
      inFlight++;
      try {
        return await traced(tracer, kind, statement, run);
      } finally {
        inFlight--;
      }
    },
  };
}

/** `run` in a client span (when there is a tracer) made active for what it starts. */
function traced<T>(
  tracer: Tracer | undefined,
  kind: string,
  statement: string | undefined,
  run: () => PromiseLike<T>,
): Promise<T> {
  if (!tracer) return Promise.resolve(run());
  const span = tracer.startSpan(kind, {
    kind: SpanKind.CLIENT,
    attributes: {
      "db.system": "postgresql",
      "db.system.name": "postgresql",
      "db.operation.name": kind,
      // Drizzle sends parameters separately ($1, $2…), so the text holds no values.
      ...(statement ? { "db.query.text": statement } : {}),
    },
  });
  return context.with(trace.setSpan(context.active(), span), async () => {
    try {
      return await run();
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** The statement kind: its first keyword (SELECT, INSERT, SET, …). */
export function statementKind(text: string): string {
  return /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? "QUERY";
}

/**
 * postgres-js as Drizzle uses it: `unsafe()` for statements and `begin()` for transactions.
 * Statements inside a transaction run on the transaction's own client, which gets spans but
 * is not counted again: the transaction holds their connection.
 */
export function instrumentPostgres(client: Sql, instruments: Instruments): Sql {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === "unsafe") return unsafe(target, (kind, text, run) => instruments.track(kind, text, run));
      if (prop === "begin") {
        return (...args: unknown[]) => {
          const i = typeof args[0] === "function" ? 0 : 1;
          const body = args[i] as (tx: Sql) => unknown;
          args[i] = (tx: Sql) => body(spansOnly(tx, instruments.tracer));
          return instruments.track("transaction", undefined, () =>
            (target.begin as (...a: unknown[]) => Promise<unknown>)(...args),
          );
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

type Track = <T>(kind: string, text: string, run: () => PromiseLike<T>) => Promise<T>;

/**
 * Wraps `unsafe`. A postgres-js query is a lazy promise with builder methods (`values()`), so
 * the caller keeps the query object itself and its settling is watched with then(). That
 * starts it now rather than at the caller's await: fine for Drizzle, which sets `values()` in
 * the same tick and awaits at once (the query is sent a microtask later), not for a caller
 * that would use cursor() or forEach(). (Watching it through Promise.prototype.then instead,
 * without starting it, made the 8-writer events test several times slower.)
 */
function unsafe(target: Sql, track: Track) {
  return (text: string, ...rest: unknown[]) => {
    const query = (target.unsafe as (t: string, ...r: unknown[]) => Promise<unknown>)(text, ...rest);
    void track(statementKind(text), text, () => query.then(noop)).catch(noop);
    return query;
  };
}

function spansOnly(tx: Sql, tracer: Tracer | undefined): Sql {
  if (!tracer) return tx;
  return new Proxy(tx, {
    get(target, prop, receiver) {
      if (prop === "unsafe") return unsafe(target, (kind, text, run) => traced(tracer, kind, text, run));
      return Reflect.get(target, prop, receiver);
    },
  });
}

/** PGlite as Drizzle uses it: `query()` for statements, `transaction()` for transactions. */
export function instrumentPglite(client: PGlite, instruments: Instruments): PGlite {
  const { tracer } = instruments;
  return new Proxy(client, {
    get(target, prop) {
      if (prop === "query") {
        return (text: string, ...rest: unknown[]) =>
          instruments.track(statementKind(text), text, () =>
            (target.query as (t: string, ...r: unknown[]) => Promise<unknown>)(text, ...rest),
          );
      }
      if (prop === "transaction") {
        return <T>(body: (tx: Transaction) => Promise<T>) =>
          instruments.track("transaction", undefined, () =>
            target.transaction((tx) => body(tracer ? pgliteTxSpans(tx, tracer) : tx)),
          );
      }
      // PGlite keeps state in private fields: its own methods must run on the real object.
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function pgliteTxSpans(tx: Transaction, tracer: Tracer): Transaction {
  return new Proxy(tx, {
    get(target, prop) {
      if (prop === "query") {
        return (text: string, ...rest: unknown[]) =>
          traced(tracer, statementKind(text), text, () =>
            (target.query as (t: string, ...r: unknown[]) => Promise<unknown>)(text, ...rest),
          );
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function noop(): void {}
