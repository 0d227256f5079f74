/**
 * Directory synchronization: status of each synchronized directory, "synchronize now", run history,
 * and the administrator's decision on a run whose removals exceeded the threshold.
 *
 * A run started here is recorded before the answer (202, Location: the run) and goes on in the
 * background; poll the run until its status is no longer `running`. The routes exist even when no
 * directory has a `sync` block (the list is empty and every directory is 404 `directory_not_found`),
 * so the API document does not depend on the configuration.
 */
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { SyncService } from '../../../directory/sync-service.ts';
import { SyncServiceError } from '../../../directory/sync-service.ts';
import { ADMIN_ONLY, HELPDESK, actorOf } from '../auth.ts';
import { DirectoryParams, DirectorySyncStatusList, DirectorySyncStatusSchema, SyncRunList, SyncRunParams, SyncRunSchema } from '../schemas.ts';
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

const RunsQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })) }, { additionalProperties: false });

/** Nothing to send with a decision: no body, or an empty object. */
const DecisionBody = Type.Object({}, { additionalProperties: false });

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

const runUrl = (directory: string, runId: string): string => `/api/v1/directories/${encodeURIComponent(directory)}/runs/${encodeURIComponent(runId)}`;

export async function directoriesRoutes(app: Api, opts: { directorySync?: SyncService | undefined }): Promise<void> {
  const sync: Directories = opts.directorySync ?? unsynchronized();

  app.get(
    '/directories',
    {
      config: { roles: HELPDESK },
      schema: {
        tags,
        summary: 'Synchronized directories and their synchronization status',
        description: 'Empty when no directory source has a `sync` block.',
        response: { 200: DirectorySyncStatusList },
      },
    },
    async () => ({ items: await sync.list() }),
  );

  app.get(
    '/directories/:name',
    {
      config: { roles: HELPDESK },
      schema: {
        tags,
        summary: "A directory's synchronization status",
        description: 'Its items and policy, the last run, the runs awaiting approval, the server running a synchronization now, and the next scheduled run.',
        params: DirectoryParams,
        response: { 200: DirectorySyncStatusSchema },
      },
    },
    async (request) => sync.status(request.params.name),
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
      config: { roles: HELPDESK },
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
      config: { roles: HELPDESK },
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
          body: DecisionBody,
          response: { 200: SyncRunSchema },
        },
        preValidation: absentBodyIsEmpty,
      },
      async (request) => sync.decide(request.params.name, request.params.id, decision, actorOf(request)),
    );
  }
}
