import { type Compilable, CompiledQuery } from "kysely";

/** Stands for one named value while a query is compiled. */
class Slot {
  constructor(readonly name: string) {}
}

/**
 * A typed query built and compiled once per shape (which optional clauses it has), then run with
 * each call's values. For hot read paths: building and compiling a Kysely query costs more than
 * reading a page by key.
 *
 * `build(shape, v)` decides the clauses from `shape` and binds values only from `v` (placeholders
 * while compiling); a value bound from anything else would be fixed into every later call, so
 * compiling refuses it.
 */
export class PreparedQuery<S, V extends Record<string, unknown>, O> {
  readonly #compiled = new Map<string, { sql: string; slots: readonly unknown[] }>();

  constructor(
    private readonly build: (shape: S, v: V) => Compilable<O>,
    private readonly key: (shape: S) => string,
  ) {}

  /** The compiled query for `shape` with `values` bound. */
  bind(shape: S, values: V): CompiledQuery<O> {
    const key = this.key(shape);
    let c = this.#compiled.get(key);
    if (!c) {
      const slots = new Proxy({}, { get: (_, name) => new Slot(String(name)) }) as V;
      const q = this.build(shape, slots).compile();
      const fixed = q.parameters.find((p) => !(p instanceof Slot));
      if (fixed !== undefined)
        throw new Error(
          `Expected every value of a prepared query bound from its values; received ${String(fixed)}`,
        );
      c = { sql: q.sql, slots: q.parameters };
      this.#compiled.set(key, c);
    }
    return CompiledQuery.raw(
      c.sql,
      c.slots.map((s) => values[(s as Slot).name]),
    ) as CompiledQuery<O>;
  }
}
