/**
 * Queries built once. The authentication hot path runs the same few statements for every
 * request; building and compiling them through Kysely each time costs more than SQLite takes to
 * run them. A prepared query is built once with the typed builder of the store's own Kysely
 * instance (so its SQL is right for the dialect), with placeholders where the arguments go; each
 * call only fills the parameters in and runs the compiled SQL through the Kysely instance or
 * transaction it is given.
 *
 *     const byName = prepareQuery((a: { name: string }) => db.selectFrom('users').selectAll().where('username_lc', '=', a.name));
 *     const { rows } = await byName.execute(db, { name: 'alice' });
 *
 * Every call reuses one SQL string, so SQLite's statement cache (sqlite.ts) finds the prepared
 * statement with a hash it has already computed.
 *
 * Only for queries whose SQL text does not depend on the argument values: an argument must reach
 * the SQL as a bound parameter (not `is null`, not an identifier, not a list whose length varies);
 * a query with two shapes is two prepared queries. An argument that is `undefined` is bound as
 * NULL, which is what leaving the column out of an INSERT gives when it has no default.
 */
import { createQueryId } from 'kysely';
import type { Compilable, CompiledQuery, QueryResult, RootOperationNode } from 'kysely';

/** Where a prepared query runs: the store's Kysely instance or one of its transactions. */
export interface QueryRunner {
  executeQuery<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>;
}

export interface PreparedQuery<A, R> {
  /** The SQL text, compiled once. */
  readonly sql: string;
  /** The operation tree it was compiled from. */
  readonly node: RootOperationNode;
  /** The query for these arguments, as Kysely would have compiled it. */
  compile(args: A): CompiledQuery<R>;
  execute(db: QueryRunner, args: A): Promise<QueryResult<R>>;
}

/** Stands in for an argument while the query is built; found again among the compiled parameters. */
class Placeholder {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
}

/**
 * Builds the query once. `build` receives placeholders for the arguments it reads; each must end
 * up as a bound parameter (it may appear several times). Throws when one does not.
 */
export function prepareQuery<A extends object, R>(build: (args: A) => Compilable<R>): PreparedQuery<A, R> {
  const placeholders = new Map<string, Placeholder>();
  const args = new Proxy(
    {},
    {
      get(_target, name) {
        if (typeof name !== 'string') return undefined;
        let placeholder = placeholders.get(name);
        if (placeholder === undefined) {
          placeholder = new Placeholder(name);
          placeholders.set(name, placeholder);
        }
        return placeholder;
      },
    },
  ) as A;
  const template = build(args).compile();
  const { sql, query: node } = template;
  // Per parameter position: the argument it takes, or (undefined) the constant the builder put there.
  const names: (string | undefined)[] = [];
  const constants: unknown[] = [];
  const bound = new Set<Placeholder>();
  for (const value of template.parameters) {
    if (value instanceof Placeholder) {
      names.push(value.name);
      constants.push(undefined);
      bound.add(value);
    } else {
      names.push(undefined);
      constants.push(value);
    }
  }
  for (const placeholder of placeholders.values()) {
    if (!bound.has(placeholder)) throw new Error(`prepared query: argument "${placeholder.name}" is not a bound parameter of: ${sql}`);
  }
  const count = names.length;

  function compile(values: A): CompiledQuery<R> {
    const parameters: unknown[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const name = names[i];
      if (name === undefined) {
        parameters[i] = constants[i];
      } else {
        const value = (values as Record<string, unknown>)[name];
        parameters[i] = value === undefined ? null : value;
      }
    }
    return { sql, query: node, queryId: createQueryId(), parameters };
  }

  return {
    sql,
    node,
    compile,
    execute: (db, values) => db.executeQuery(compile(values)),
  };
}
