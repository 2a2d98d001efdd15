import type { Db } from "./database.ts";

/**
 * A statement built once per database handle: Drizzle's query builder allocates and works
 * more per call than the database does for a small query (a fifth of a CreateUser call's CPU,
 * profiled; tens of KB per Subscribe stream's replay). A transaction is a handle of its own,
 * so a call with a deadline still builds it once per call.
 */
export function oncePerHandle<T>(build: (db: Db) => T): (db: Db) => T {
  const built = new WeakMap<Db, T>();
  return (db) => {
    let statement = built.get(db);
    if (statement === undefined) {
      statement = build(db);
      built.set(db, statement);
    }
    return statement;
  };
}
