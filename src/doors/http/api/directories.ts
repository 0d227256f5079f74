/**
 * Directory sources: every configured source with its synchronization status, "test connection",
 * searching users and importing them; and synchronization: "synchronize now", run history, and the
 * administrator's decision on a run whose removals exceeded the threshold.
 *
 * A run started here is recorded before the answer (202, Location: the run) and goes on in the
 * background; poll the run until its status is no longer `running`. Search and import answer when
 * done. The routes exist even when no directory is configured (the list is empty and every
 * directory is 404 `directory_not_found`), so the API document does not depend on the configuration.
 */
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Actor } from '../../../core/api.ts';
import { METHOD_TYPES } from '../../../core/types.ts';
import type { DirectoryService, ImportResult, SourceView } from '../../../directory/directory-service.ts';
import { DirectoryNotFoundError, userRow } from '../../../directory/directory-service.ts';
import { DirectorySearchError, MAX_QUERY_LENGTH, type SearchResult, type SearchScope } from '../../../directory/search.ts';
import type { SyncService } from '../../../directory/sync-service.ts';
import { SyncServiceError } from '../../../directory/sync-service.ts';
import type { SyncTarget } from '../../../directory/sync.ts';
import { ADMIN_ONLY, HELPDESK_READ, actorOf } from '../auth.ts';
import { ProblemError, problem, type FieldProblem } from '../errors.ts';
import {
  ConnectionReportSchema,
  DirectoryImportResultSchema,
  DirectoryList,
  DirectoryParams,
  DirectorySchema,
  DirectorySearchResultSchema,
  SyncRunList,
  SyncRunParams,
  SyncRunSchema,
} from '../schemas.ts';
import type { Api } from '../schemas.ts';

const tags = ['directories'];

const SyncBody = Type.Object(
  {
    mode: Type.Optional(
      Type.Enum(['full', 'incremental'], {
        default: 'full',
        description:
          'full reads every entry in scope and finds removals; incremental reads only entries changed since the last run (full when there is no cursor yet)',
      }),
    ),
  },
  { additionalProperties: false },
);

const StartedSchema = Type.Object({
  run: Type.String({ description: 'Id of the run' }),
  location: Type.String({ description: 'The run, to poll until its status is no longer `running`' }),
});

/** Which users: exactly one of these (checked by scopeOf, so the problem names the fields). */
const scopeFields = {
  ou: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'DN: every user in its subtree (organizational unit)' })),
  group: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'DN: the members of this group, nested groups included' })),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_QUERY_LENGTH, description: 'Users whose login or display name contains this text (case-insensitive)' })),
};

const DEFAULT_SEARCH_LIMIT = 100;

const UsersQuery = Type.Object(
  {
    ...scopeFields,
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: DEFAULT_SEARCH_LIMIT, description: 'At most this many users' })),
  },
  { additionalProperties: false },
);

const ImportBody = Type.Object(
  {
    ...scopeFields,
    language: Type.Optional(
      Type.String({ maxLength: 35, pattern: '^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$', description: 'Language of new users whose directory entry has none (en, fr-CA)' }),
    ),
    defaultMethod: Type.Optional(Type.Enum([...METHOD_TYPES], { description: 'Default second factor of new users' })),
    dryRun: Type.Optional(Type.Boolean({ default: false, description: 'Report what would change, write nothing' })),
  },
  { additionalProperties: false },
);

const RunsQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })) }, { additionalProperties: false });

/** Nothing to send with a decision or a connection test: no body, or an empty object. */
const EmptyBody = Type.Object({}, { additionalProperties: false });

/** These routes' bodies are optional: no body at all is validated as an empty object. */
async function absentBodyIsEmpty(request: FastifyRequest): Promise<void> {
  request.body ??= {};
}

type Directories = Pick<SyncService, 'targets' | 'list' | 'status' | 'start' | 'runs' | 'run' | 'decide'>;

/** Stands in when no directory is synchronized: an empty list, and 404 for every name. */
function unsynchronized(): Directories {
  const missing = (name: string): never => {
    throw new SyncServiceError('directory_not_found', `no synchronized directory named "${name}" (none has a "sync" block in the configuration)`);
  };
  return {
    targets: [],
    list: async () => [],
    status: async (name) => missing(name),
    start: async (name) => missing(name),
    runs: async (name) => missing(name),
    run: async (name) => missing(name),
    decide: async (name) => missing(name),
  };
}

/** Stands in when no directory source is configured: an empty list, and 404 for every name. */
function unconfigured(): DirectoryService {
  const missing = (name: string): never => {
    throw new DirectoryNotFoundError(name, []);
  };
  return {
    list: () => [],
    test: async (name) => missing(name),
    search: async (name) => missing(name),
    import: async (name) => missing(name),
  };
}

/** What may be shown of a synchronized directory's source (the same fields as the directory service's list). */
function viewOfTarget(t: SyncTarget): SourceView {
  return {
    name: t.name,
    preset: t.items[0]?.map.name ?? '',
    urls: t.source.urls,
    baseDn: t.source.baseDn,
    bindDn: t.source.bindDn,
    startTls: t.source.startTls,
    rejectUnauthorized: t.source.rejectUnauthorized,
    loginAttribute: t.source.userAttribute,
  };
}

type ScopeField = 'ou' | 'group' | 'name';
const SCOPE_FIELDS: readonly ScopeField[] = ['ou', 'group', 'name'];

interface RequestScope {
  readonly scope: SearchScope;
  /** The request field it came from, to name in problems. */
  readonly field: ScopeField;
  readonly where: 'query' | 'body';
}

/** The search scope of a request: exactly one of ou, group or name, else 400 naming the fields. */
function scopeOf(given: Partial<Record<ScopeField, string>>, where: RequestScope['where']): RequestScope {
  const present = SCOPE_FIELDS.filter((f) => given[f] !== undefined);
  const [field] = present;
  if (present.length !== 1 || field === undefined) {
    const message = present.length === 0 ? 'one of ou, group or name is required' : 'only one of ou, group or name may be given';
    const errors = (present.length === 0 ? SCOPE_FIELDS : present).map((f): FieldProblem => ({ field: f, in: where, message }));
    throw new ProblemError(problem('validation_failed', `Invalid ${where}: give exactly one of ou, group or name.`, errors));
  }
  const value = given[field] ?? '';
  return { scope: field === 'name' ? { kind: 'name', query: value } : { kind: field, dn: value }, field, where };
}

/**
 * Errors about the scope in the request's terms: the service names the field `scope.dn` or
 * `scope.query`, the request `ou`, `group` or `name`. The directory refusing the DN (no such entry,
 * invalid DN syntax, not a group) is the caller's mistake, not a failure of the directory.
 */
function scopeProblem(err: unknown, s: RequestScope): unknown {
  if (!(err instanceof DirectorySearchError && err.field.startsWith('scope'))) return err;
  const message = err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
  return new ProblemError(problem('validation_failed', `Invalid ${s.where}: ${s.field} ${message}.`, [{ field: s.field, in: s.where, message }]));
}

const runUrl = (directory: string, runId: string): string => `/api/v1/directories/${encodeURIComponent(directory)}/runs/${encodeURIComponent(runId)}`;

export async function directoriesRoutes(app: Api, opts: { directories?: DirectoryService | undefined; directorySync?: SyncService | undefined }): Promise<void> {
  const sources: DirectoryService = opts.directories ?? unconfigured();
  const sync: Directories = opts.directorySync ?? unsynchronized();

  /** Every source: the configured ones, then any synchronized directory the service does not list. */
  const views = (): SourceView[] => {
    const listed = sources.list();
    const names = new Set(listed.map((v) => v.name));
    return [...listed, ...sync.targets.filter((t) => !names.has(t.name)).map(viewOfTarget)];
  };

  const search = async (name: string, s: RequestScope, limit: number): Promise<SearchResult> => {
    try {
      return await sources.search(name, s.scope, limit);
    } catch (e) {
      throw scopeProblem(e, s);
    }
  };

  const importUsers = async (name: string, s: RequestScope, body: { language?: string; defaultMethod?: (typeof METHOD_TYPES)[number]; dryRun?: boolean }, actor: Actor): Promise<ImportResult> => {
    const defaults = { ...(body.language !== undefined ? { language: body.language } : {}), ...(body.defaultMethod !== undefined ? { defaultMethod: body.defaultMethod } : {}) };
    try {
      return await sources.import(name, s.scope, { dryRun: body.dryRun === true, defaults }, actor);
    } catch (e) {
      throw scopeProblem(e, s);
    }
  };

  app.get(
    '/directories',
    {
      config: { roles: HELPDESK_READ },
      schema: {
        tags,
        summary: 'Directory sources and their synchronization status',
        description: 'Every configured source (never its password), with `sync: null` when it has no `sync` block. Empty when none is configured.',
        response: { 200: DirectoryList },
      },
    },
    async () => {
      const statuses = new Map((await sync.list()).map((s) => [s.directory, s]));
      return { items: views().map((v) => ({ ...v, sync: statuses.get(v.name) ?? null })) };
    },
  );

  app.get(
    '/directories/:name',
    {
      config: { roles: HELPDESK_READ },
      schema: {
        tags,
        summary: 'A directory source and its synchronization status',
        description:
          'The connection settings (never the password) and, for a source with a `sync` block, its items and policy, the last run, ' +
          'the runs awaiting approval, the server running a synchronization now, and the next scheduled run.',
        params: DirectoryParams,
        response: { 200: DirectorySchema },
      },
    },
    async (request) => {
      const name = request.params.name;
      const all = views();
      const view = all.find((v) => v.name === name);
      if (view === undefined) throw new DirectoryNotFoundError(name, all.map((v) => v.name));
      const synchronized = sync.targets.some((t) => t.name === name);
      return { ...view, sync: synchronized ? await sync.status(name) : null };
    },
  );

  app.post(
    '/directories/:name/test',
    {
      config: { roles: ADMIN_ONLY },
      schema: {
        tags,
        summary: 'Test the connection',
        description:
          'On each URL in order: connect, StartTLS when configured, bind as the service account and read the base DN. ' +
          '200 whether or not it works: `ok` says, and each attempt where and why it failed (e.g. `{"stage":"bind","code":49}` for a wrong password).',
        params: DirectoryParams,
        body: EmptyBody,
        response: { 200: ConnectionReportSchema },
      },
      preValidation: absentBodyIsEmpty,
    },
    async (request) => sources.test(request.params.name),
  );

  app.get(
    '/directories/:name/users',
    {
      config: { roles: HELPDESK_READ },
      schema: {
        tags,
        summary: 'Search directory users',
        description:
          'The users an import would take, as Countersign would store them; nothing is written. Exactly one of `ou`, `group` or `name`. ' +
          '503 `directory_unavailable` when no URL of the directory works (`attempts` says where each failed).',
        params: DirectoryParams,
        querystring: UsersQuery,
        response: { 200: DirectorySearchResultSchema },
      },
    },
    async (request) => {
      const found = await search(request.params.name, scopeOf(request.query, 'query'), request.query.limit ?? DEFAULT_SEARCH_LIMIT);
      return {
        users: found.users.map(userRow),
        skipped: found.skipped,
      };
    },
  );

  app.post(
    '/directories/:name/import',
    {
      config: { roles: ADMIN_ONLY },
      schema: {
        tags,
        summary: 'Import directory users',
        description:
          'Creates or updates Countersign users from the directory accounts in scope (exactly one of `ou`, `group` or `name`), matched by their stable ' +
          'directory id, never by name: a user of the same name from elsewhere is reported as `source_conflict` and left alone. A disabled directory ' +
          'account disables the user; enabling again is up to an administrator. Bad entries are listed in `errors` and never stop the others. ' +
          'Each change is audited with the API key as actor. `dryRun` writes nothing. ' +
          '503 `directory_unavailable` when no URL of the directory works.',
        params: DirectoryParams,
        body: ImportBody,
        response: { 200: DirectoryImportResultSchema },
      },
    },
    async (request) => importUsers(request.params.name, scopeOf(request.body, 'body'), request.body, actorOf(request)),
  );

  app.post(
    '/directories/:name/sync',
    {
      config: { roles: ADMIN_ONLY },
      schema: {
        tags,
        summary: 'Synchronize now',
        description:
          'Starts a run and answers once it is recorded; the run goes on in the background. Poll the run at `Location`. ' +
          '409 `sync_running` when a synchronization of this directory is already running on any server (the detail names the server).',
        params: DirectoryParams,
        body: SyncBody,
        response: { 202: StartedSchema },
      },
      preValidation: absentBodyIsEmpty,
    },
    async (request, reply) => {
      const name = request.params.name;
      // The run goes on after the answer; it records its own outcome (run record, audit trail).
      const started = await sync.start(name, request.body.mode ?? 'full', actorOf(request));
      const location = runUrl(name, started.runId);
      reply.code(202).header('location', location);
      return { run: started.runId, location };
    },
  );

  app.get(
    '/directories/:name/runs',
    {
      config: { roles: HELPDESK_READ },
      schema: {
        tags,
        summary: 'Synchronization runs of a directory, newest first',
        params: DirectoryParams,
        querystring: RunsQuery,
        response: { 200: SyncRunList },
      },
    },
    async (request) => ({ items: await sync.runs(request.params.name, request.query.limit ?? 20) }),
  );

  app.get(
    '/directories/:name/runs/:id',
    {
      config: { roles: HELPDESK_READ },
      schema: {
        tags,
        summary: 'One synchronization run',
        description: 'Its status, counts, first errors, and the pending disables and removals when it awaits approval.',
        params: SyncRunParams,
        response: { 200: SyncRunSchema },
      },
    },
    async (request) => {
      const { name, id } = request.params;
      return sync.run(name, id);
    },
  );

  for (const decision of ['approve', 'reject'] as const) {
    app.post(
      `/directories/:name/runs/:id/${decision}`,
      {
        config: { roles: ADMIN_ONLY },
        schema: {
          tags,
          summary: decision === 'approve' ? 'Approve the pending disables and removals of a run' : 'Reject the pending disables and removals of a run',
          description:
            (decision === 'approve'
              ? 'Applies exactly the listed changes, each user checked again first. '
              : 'Changes nobody; the next full run makes a new list. ') +
            'Audited. 409 `not_awaiting_approval` when the run is not (or no longer) awaiting approval, e.g. decided already or superseded by a newer run.',
          params: SyncRunParams,
          body: EmptyBody,
          response: { 200: SyncRunSchema },
        },
        preValidation: absentBodyIsEmpty,
      },
      async (request) => sync.decide(request.params.name, request.params.id, decision, actorOf(request)),
    );
  }
}
