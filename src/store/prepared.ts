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
 *
 * On SQLite a prepared query can also run on the connection directly (`executeOn` a SqliteLane),
 * synchronously: better-sqlite3 is synchronous anyway, and Kysely's path around it (connection
 * provider, mutex, several promises per query) costs more than the statement. That is only right
 * while no Kysely transaction is open on the connection (its statements would be seen half-done):
 * `run` checks, and otherwise goes through Kysely, which waits for the transaction to end.
 */
import { createQueryId } from 'kysely';
import type { Compilable, CompiledQuery, QueryResult, RootOperationNode, SqliteStatement } from 'kysely';

/** Where a prepared query runs: the store's Kysely instance or one of its transactions. */
export interface QueryRunner {
  executeQuery<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>;
}

/** The SQLite connection under the store's Kysely instance (sqlite.ts). */
export interface SqliteLane {
  /** A transaction is open: one of Kysely's (between its awaits), or a batch of the write batcher. */
  readonly inTransaction: boolean;
  /** The connection's cached prepared statement for this SQL. */
  prepare(sql: string): SqliteStatement;
}

export interface PreparedQuery<A, R> {
  /** The SQL text, compiled once. */
  readonly sql: string;
  /** The operation tree it was compiled from. */
  readonly node: RootOperationNode;
  /** The query for these arguments, as Kysely would have compiled it. */
  compile(args: A): CompiledQuery<R>;
  execute(db: QueryRunner, args: A): Promise<QueryResult<R>>;
  /** Runs on the SQLite connection directly, now, with the result Kysely's SQLite driver would give. */
  executeOn(lane: SqliteLane, args: A): QueryResult<R>;
  /** On `lane` when there is one and no transaction is open on it; else through Kysely on `db`. */
  run(db: QueryRunner, lane: SqliteLane | null, args: A): Promise<QueryResult<R>>;
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

  function parametersOf(values: A): unknown[] {
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
    return parameters;
  }

  function compile(values: A): CompiledQuery<R> {
    return { sql, query: node, queryId: createQueryId(), parameters: parametersOf(values) };
  }

  // As Kysely's SqliteConnection.executeQuery: rows for statements that return rows, counts for the others.
  function executeOn(lane: SqliteLane, values: A): QueryResult<R> {
    const statement = lane.prepare(sql);
    const parameters = parametersOf(values);
    if (statement.reader) return { rows: statement.all(parameters) as R[] };
    const { changes, lastInsertRowid } = statement.run(parameters);
    return {
      insertId: lastInsertRowid != null ? BigInt(lastInsertRowid) : undefined,
      numAffectedRows: changes != null ? BigInt(changes) : undefined,
      rows: [],
    };
  }

  return {
    sql,
    node,
    compile,
    execute: (db, values) => db.executeQuery(compile(values)),
    executeOn,
    async run(db, lane, values) {
      if (lane === null || lane.inTransaction) return db.executeQuery(compile(values));
      return executeOn(lane, values);
    },
  };
}
