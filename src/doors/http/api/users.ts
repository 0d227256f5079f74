/**
 * Users: list, create, read, update, delete, enable/disable, block/unblock, unlock, local password,
 * console role, RADIUS reply attributes, history and CSV import.
 */
import { Type } from 'typebox';
import type { Core } from '../../../core/api.ts';
import { ADMIN_ONLY, ANY_READER, HELPDESK, HELPDESK_READ, actorOf } from '../auth.ts';
import {
  ConsoleRoleBody,
  CreateUserBody,
  EffectiveStatusSchema,
  HistoryList,
  ImportReportSchema,
  NoContent,
  ReasonBody,
  ReplyAttributesBody,
  UpdateUserBody,
  UserPage,
  UsernameParams,
  UserViewSchema,
} from '../schemas.ts';
import type { Api } from '../schemas.ts';
import { csvBody } from '../bodies.ts';

const tags = ['users'];

const ListQuery = Type.Object(
  {
    search: Type.Optional(Type.String({ maxLength: 256, description: 'Case-insensitive substring of username, display name or email' })),
    state: Type.Optional(EffectiveStatusSchema),
    after: Type.Optional(Type.String({ maxLength: 256, description: 'Cursor: the `next` of the previous page' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
  },
  { additionalProperties: false },
);

const PasswordBody = Type.Object(
  {
    password: Type.String({
      minLength: 1,
      // The policy (12 to 1024 characters, not the username) is the core's; this bounds the body only.
      maxLength: 4096,
      description: 'The new local password: 12 to 1024 characters, not the username. Stored as an argon2id hash, never shown again.',
    }),
  },
  { additionalProperties: false },
);

const HistoryQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) }, { additionalProperties: false });

export async function usersRoutes(app: Api, opts: { core: Core }): Promise<void> {
  const { core } = opts;

  app.get(
    '/users',
    {
      config: { roles: ANY_READER },
      schema: { tags, summary: 'List users (paged by username)', querystring: ListQuery, response: { 200: UserPage } },
    },
    async (request) => {
      const q = request.query;
      const page = await core.users.list({ search: q.search, state: q.state, after: q.after, limit: q.limit ?? 50 });
      return { items: [...page.items], next: page.next === null ? null : String(page.next) };
    },
  );

  app.post(
    '/users',
    {
      config: { roles: ADMIN_ONLY },
      schema: { tags, summary: 'Create a user', body: CreateUserBody, response: { 201: UserViewSchema } },
    },
    async (request, reply) => {
      const user = await core.users.create(request.body, actorOf(request));
      reply.code(201).header('location', `/api/v1/users/${encodeURIComponent(user.username)}`);
      return user;
    },
  );

  app.post(
    '/users/import',
    {
      config: { roles: ADMIN_ONLY },
      bodyLimit: csvBody.limit,
      schema: {
        tags,
        summary: 'Import or update users from CSV',
        description:
          'CSV with a header row. Columns: username (required), display_name, email, phone, phone_country, phone_extension, ' +
          'backup_phone, backup_phone_country, backup_phone_extension, language, status, default_method. ' +
          'Existing users are updated; bad rows are reported and never stop good ones.',
        body: csvBody.schema,
        response: { 200: ImportReportSchema },
      },
    },
    async (request) => {
      return core.users.importCsv(csvBody.text(request), actorOf(request));
    },
  );

  app.get(
    '/users/:username',
    {
      config: { roles: ANY_READER },
      schema: { tags, summary: 'Read a user', params: UsernameParams, response: { 200: UserViewSchema } },
    },
    async (request) => core.users.get(request.params.username),
  );

  app.patch(
    '/users/:username',
    {
      config: { roles: ADMIN_ONLY },
      schema: { tags, summary: 'Update a user (only the fields given)', params: UsernameParams, body: UpdateUserBody, response: { 200: UserViewSchema } },
    },
    async (request) => core.users.update(request.params.username, request.body, actorOf(request)),
  );

  app.delete(
    '/users/:username',
    {
      config: { roles: ADMIN_ONLY },
      schema: { tags, summary: 'Delete a user with their methods and bypasses', params: UsernameParams, response: { 204: NoContent } },
    },
    async (request, reply) => {
      await core.users.delete(request.params.username, actorOf(request));
      return reply.code(204).send(null);
    },
  );

  for (const [verb, enabled] of [['enable', true], ['disable', false]] as const) {
    app.post(
      `/users/:username/${verb}`,
      {
        config: { roles: ADMIN_ONLY },
        schema: { tags, summary: enabled ? 'Enable a user' : 'Disable a user (they cannot authenticate)', params: UsernameParams, response: { 200: UserViewSchema } },
      },
      async (request) => core.users.setEnabled(request.params.username, enabled, actorOf(request)),
    );
  }

  app.post(
    '/users/:username/block',
    {
      config: { roles: HELPDESK },
      schema: { tags, summary: 'Block a user', params: UsernameParams, body: ReasonBody, response: { 200: UserViewSchema } },
    },
    async (request) => core.users.block(request.params.username, request.body.reason, actorOf(request)),
  );

  app.post(
    '/users/:username/unblock',
    {
      config: { roles: HELPDESK },
      schema: { tags, summary: 'Unblock a user', params: UsernameParams, body: ReasonBody, response: { 200: UserViewSchema } },
    },
    async (request) => core.users.unblock(request.params.username, request.body.reason, actorOf(request)),
  );

  app.post(
    '/users/:username/unlock',
    {
      config: { roles: HELPDESK },
      schema: { tags, summary: 'Unlock a user locked out by failed authentications', params: UsernameParams, response: { 200: UserViewSchema } },
    },
    async (request) => core.users.unlock(request.params.username, actorOf(request)),
  );

  app.post(
    '/users/:username/sign-out',
    {
      config: { roles: HELPDESK },
      schema: {
        tags,
        summary: 'End every sign-in session of the user (portal, console, web gateway sites)',
        description: 'For a lost or shared device: the next request of each session needs a new sign-in (gateway decisions within gateway.decisionCacheMs). Audited as user.sign_out.',
        params: UsernameParams,
        response: { 200: Type.Object({ ended: Type.Integer({ minimum: 0, description: 'Sessions ended' }) }) },
      },
    },
    async (request) => core.users.signOut(request.params.username, actorOf(request)),
  );

  app.put(
    '/users/:username/password',
    {
      config: { roles: ADMIN_ONLY },
      schema: {
        tags,
        summary: "Set a local user's password (first factor)",
        description: 'Local users only; directory users sign in with their directory password. Audited as user.password.set, without the value.',
        params: UsernameParams,
        body: PasswordBody,
        response: { 200: UserViewSchema },
      },
    },
    async (request) => core.users.setPassword(request.params.username, request.body.password, actorOf(request)),
  );

  app.delete(
    '/users/:username/password',
    {
      config: { roles: HELPDESK },
      schema: {
        tags,
        summary: "Clear a user's local password",
        description: 'The user can no longer pass a local password first factor. Audited as user.password.clear.',
        params: UsernameParams,
        response: { 200: UserViewSchema },
      },
    },
    async (request) => core.users.setPassword(request.params.username, null, actorOf(request)),
  );

  app.put(
    '/users/:username/console-role',
    {
      config: { roles: ADMIN_ONLY },
      schema: {
        tags,
        summary: 'Give a user a role in the admin console, or take it away',
        description:
          'admin, helpdesk or auditor; null takes the role away and ends the console sessions of the user at once. ' +
          'The user signs in at /admin with their first factor (local or directory password) and a second factor. Audited as user.console_role.',
        params: UsernameParams,
        body: ConsoleRoleBody,
        response: { 200: UserViewSchema },
      },
    },
    async (request) => core.users.setConsoleRole(request.params.username, request.body.role, actorOf(request)),
  );

  app.put(
    '/users/:username/reply-attributes',
    {
      config: { roles: ADMIN_ONLY },
      schema: {
        tags,
        summary: "Set the user's RADIUS reply attributes (VPN policy)",
        description:
          "Replaces the list. Each Access-Accept of the user carries them last; an attribute named here replaces every attribute of the same name from the RADIUS client's replyAttributes, its groupReplyAttributes and an upstream server's Accept. " +
          'Names must be in the RADIUS dictionary and values fit their type (validation_failed names the field, e.g. attributes[1].name). Audited as user.reply_attributes with the lists before and after.',
        params: UsernameParams,
        body: ReplyAttributesBody,
        response: { 200: UserViewSchema },
      },
    },
    async (request) => core.users.setReplyAttributes(request.params.username, request.body.attributes, actorOf(request)),
  );

  app.delete(
    '/users/:username/reply-attributes',
    {
      config: { roles: ADMIN_ONLY },
      schema: {
        tags,
        summary: "Clear the user's RADIUS reply attributes",
        description: 'The user gets only the attributes of the RADIUS client and groups again. Audited as user.reply_attributes.',
        params: UsernameParams,
        response: { 200: UserViewSchema },
      },
    },
    async (request) => core.users.setReplyAttributes(request.params.username, [], actorOf(request)),
  );

  app.get(
    '/users/:username/history',
    {
      config: { roles: HELPDESK_READ },
      schema: {
        tags,
        summary: "The user's block, unblock, lock and unlock events, newest first",
        params: UsernameParams,
        querystring: HistoryQuery,
        response: { 200: HistoryList },
      },
    },
    async (request) => ({ items: await core.users.history(request.params.username, request.query.limit ?? 100) }),
  );
}
