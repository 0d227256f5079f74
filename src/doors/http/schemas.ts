/**
 * Shared TypeBox schemas of the REST API v1. They validate requests, drive response serialization
 * (only declared fields ever leave the server) and generate the OpenAPI document.
 * Times are epoch milliseconds; identifiers are opaque strings.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import { Type } from 'typebox';
import type { TSchema } from 'typebox';
import { CONSOLE_ROLES, METHOD_TYPES, ROLES } from '../../core/types.ts';

const Nullable = <T extends TSchema>(schema: T, options?: Parameters<typeof Type.Union>[1]) => Type.Union([schema, Type.Null()], options);
/** Arrays are read-only in the core's types. */
const List = <T extends TSchema>(item: T, options?: Parameters<typeof Type.Array>[1]) => Type.Immutable(Type.Array(item, options));

export const Millis = Type.Integer({ description: 'Epoch milliseconds' });
export const Id = Type.String({ minLength: 1, maxLength: 128 });

export const RoleSchema = Type.Enum([...ROLES], { description: 'admin: everything; sdk: authentications and reading users; helpdesk: user support; auditor: read only' });
export const ConsoleRoleSchema = Type.Enum([...CONSOLE_ROLES], { description: 'Role in the admin console: admin, helpdesk or auditor (read only)' });
export const MethodTypeSchema = Type.Enum([...METHOD_TYPES]);
/** What a user's default method may be: any method type but a fallback (security questions). */
const DefaultMethodSchema = Type.Enum(METHOD_TYPES.filter((t) => t !== 'questions'));
export const UserStatusSchema = Type.Enum(['enabled', 'disabled']);
export const EffectiveStatusSchema = Type.Enum(['disabled', 'blocked', 'locked', 'enabled'], {
  description: 'Effective state, in order of precedence: disabled > blocked > locked > enabled',
});

/** A username in a path: matched case-insensitively by the core. */
export const Username = Type.String({ minLength: 1, maxLength: 256 });
export const UsernameParams = Type.Object({ username: Username }, { additionalProperties: false });
export const Reason = Type.String({ minLength: 1, maxLength: 1000 });

// ---------------------------------------------------------------------------------------------
// Errors (RFC 9457)

export const FieldError = Type.Object({
  field: Type.String({ description: 'Dotted path of the offending field, e.g. "phone.number"' }),
  in: Type.Optional(Type.Enum(['body', 'query', 'params', 'headers'])),
  message: Type.String(),
});

/** One URL of a directory source tried: where it failed and why (never the password). */
export const DirectoryAttemptSchema = Type.Object({
  url: Type.String(),
  ok: Type.Boolean(),
  stage: Type.Optional(Type.Enum(['connect', 'tls', 'starttls', 'bind', 'search'], { description: 'Where it failed' })),
  code: Type.Optional(Type.Union([Type.String(), Type.Integer()], { description: 'errno or TLS code (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT) or LDAP result code (49: wrong DN or password)' })),
  message: Type.Optional(Type.String()),
});

export const Problem = Type.Object(
  {
    type: Type.String({ description: 'URN naming the problem type: urn:countersign:problem:<code>' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'Stable machine-readable code, e.g. validation_failed, user_not_found, forbidden' }),
    errors: Type.Optional(List(FieldError)),
    attempts: Type.Optional(List(DirectoryAttemptSchema, { description: 'directory_unavailable: each URL of the directory tried, in order' })),
  },
  { description: 'application/problem+json' },
);

// ---------------------------------------------------------------------------------------------
// Users

export const PhoneSchema = Type.Object({
  number: Type.String({ description: 'E.164' }),
  extension: Nullable(Type.String()),
  country: Nullable(Type.String({ description: 'ISO 3166-1 alpha-2' })),
});

export const PhoneInputSchema = Type.Object(
  {
    number: Type.String({ minLength: 1, maxLength: 64, description: 'Any common notation; give country when not international' }),
    country: Type.Optional(Nullable(Type.String({ minLength: 2, maxLength: 2 }))),
    extension: Type.Optional(Nullable(Type.String({ maxLength: 16 }))),
  },
  { additionalProperties: false },
);

export const UserSourceSchema = Type.Union([
  Type.Object({ kind: Type.Literal('local') }),
  Type.Object({ kind: Type.Literal('directory'), directory: Type.String(), externalId: Type.String() }),
]);

export const ReplyAttributeSchema = Type.Object(
  {
    name: Type.String({
      pattern: '^[A-Za-z][A-Za-z0-9-]{0,63}$',
      description: 'A RADIUS attribute of the dictionary, e.g. Class, Filter-Id, Framed-IP-Address, Session-Timeout (docs/radius.md)',
    }),
    value: Type.String({ minLength: 1, maxLength: 253, description: 'As text: vpn-admins, 10.8.0.12 for an address, 3600 for an integer' }),
  },
  { additionalProperties: false },
);

export const UserViewSchema = Type.Object({
  id: Id,
  username: Type.String(),
  displayName: Nullable(Type.String()),
  email: Nullable(Type.String()),
  phone: Nullable(PhoneSchema),
  backupPhone: Nullable(PhoneSchema),
  phoneVerifiedAt: Nullable(Millis, { description: 'When the user proved the primary phone theirs with a texted code; null when not (or since it changed)' }),
  backupPhoneVerifiedAt: Nullable(Millis, { description: 'Same for the backup phone' }),
  language: Type.String(),
  status: UserStatusSchema,
  state: EffectiveStatusSchema,
  blockedAt: Nullable(Millis),
  blockedReason: Nullable(Type.String()),
  lockedAt: Nullable(Millis),
  failedCount: Type.Integer(),
  defaultMethod: Nullable(MethodTypeSchema),
  hasPin: Type.Boolean(),
  hasPassword: Type.Boolean({ description: 'The user has a local password (first factor)' }),
  source: UserSourceSchema,
  consoleRole: Nullable(ConsoleRoleSchema, { description: 'Role in the admin console; null: the user cannot sign in to it' }),
  replyAttributes: List(ReplyAttributeSchema, {
    description: "RADIUS attributes added to the user's Access-Accepts, in order; they replace the client's and groups' attributes of the same name. Empty when none.",
  }),
  createdAt: Millis,
  updatedAt: Millis,
});

export const ConsoleRoleBody = Type.Object(
  { role: Nullable(ConsoleRoleSchema, { description: 'null takes the console role away (and ends the console sessions of the user)' }) },
  { additionalProperties: false },
);

export const ReplyAttributesBody = Type.Object(
  {
    attributes: List(ReplyAttributeSchema, {
      maxItems: 32,
      description: 'The complete list, replacing the current one (at most 32; values of at most 2048 octets in all). A name may repeat (several Class). [] clears them.',
    }),
  },
  { additionalProperties: false },
);

const userFields = {
  displayName: Type.Optional(Nullable(Type.String({ maxLength: 256 }))),
  email: Type.Optional(Nullable(Type.String({ maxLength: 320 }))),
  phone: Type.Optional(Nullable(PhoneInputSchema)),
  backupPhone: Type.Optional(Nullable(PhoneInputSchema)),
  language: Type.Optional(Type.String({ minLength: 2, maxLength: 35 })),
  status: Type.Optional(UserStatusSchema),
  defaultMethod: Type.Optional(Nullable(DefaultMethodSchema)),
  pin: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 64, description: 'Plain PIN; stored hashed' }))),
};

export const CreateUserBody = Type.Object({ username: Username, ...userFields }, { additionalProperties: false });
export const UpdateUserBody = Type.Object({ username: Type.Optional(Username), ...userFields }, { additionalProperties: false, minProperties: 1 });

export const UserPage = Type.Object({
  items: List(UserViewSchema),
  next: Nullable(Type.String({ description: 'Pass as `after` to get the next page' })),
});

export const ReasonBody = Type.Object({ reason: Reason }, { additionalProperties: false });

export const ImportRowErrorSchema = Type.Object({
  row: Type.Integer({ description: '1-based CSV line or PSKC key package index' }),
  field: Nullable(Type.String()),
  message: Type.String(),
});

export const ImportReportSchema = Type.Object({
  total: Type.Integer(),
  created: Type.Integer(),
  updated: Type.Integer(),
  skipped: Type.Integer(),
  errors: List(ImportRowErrorSchema),
});

// ---------------------------------------------------------------------------------------------
// Audit

export const AuditEventSchema = Type.Object({
  id: Type.Integer(),
  at: Millis,
  kind: Type.Enum(['authentication', 'admin', 'accounting']),
  action: Type.String(),
  result: Type.String(),
  reason: Nullable(Type.String()),
  username: Nullable(Type.String()),
  userId: Nullable(Type.String()),
  displayName: Nullable(Type.String()),
  email: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  device: Nullable(Type.String()),
  method: Nullable(Type.String()),
  mode: Nullable(Type.String()),
  application: Nullable(Type.String()),
  serverName: Nullable(Type.String()),
  clientIp: Nullable(Type.String()),
  actor: Nullable(Type.String()),
  authenticationId: Nullable(Type.String()),
  details: Nullable(Type.Record(Type.String(), Type.Unknown())),
});

export const AuditPage = Type.Object({
  items: List(AuditEventSchema),
  next: Nullable(Type.Integer({ description: 'Event id to pass as `before` (or `after` when tailing) for the next page' })),
});

export const HistoryList = Type.Object({ items: List(AuditEventSchema) });

// ---------------------------------------------------------------------------------------------
// Methods

export const OathConfigSchema = Type.Object({
  algorithm: Type.Enum(['SHA1', 'SHA256', 'SHA512']),
  digits: Type.Integer(),
  period: Type.Integer(),
  serial: Nullable(Type.String()),
  origin: Type.Enum(['software', 'imported']),
});

export const MethodViewSchema = Type.Object({
  id: Id,
  type: MethodTypeSchema,
  label: Type.String(),
  config: OathConfigSchema,
  drift: Type.Integer(),
  pending: Type.Boolean({ description: 'Set up but not confirmed with a code yet: it signs nobody in' }),
  remaining: Nullable(Type.Integer({ description: 'Backup codes: how many are unused; null for other types' })),
  createdAt: Millis,
  lastUsedAt: Nullable(Millis),
});

export const BackupCodesSchema = Type.Object({
  method: MethodViewSchema,
  codes: List(Type.String({ description: '12345-67890' }), { description: 'Ten single-use codes, shown once' }),
});

export const MethodList = Type.Object({ items: List(MethodViewSchema) });

export const DeviceActivationSchema = Type.Object(
  {
    activationCode: Type.String({ description: 'Entered in the app, or opened as /mobile/app/#activate=<code>; works once' }),
    expiresAt: Type.Integer({ description: 'Unix time in milliseconds after which the code no longer works' }),
  },
  { additionalProperties: false },
);

export const PhoneMethodBody = Type.Object(
  {
    type: Type.Union([Type.Literal('sms'), Type.Literal('voice')], { description: '`sms`: a code texted at each sign-in; `voice`: a call, answered with # (or 0 to report fraud)' }),
    phone: Type.Optional(Type.Union([Type.Literal('phone'), Type.Literal('backupPhone')], { description: "Which of the user's phones; `phone` (the primary one) when omitted" })),
    label: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);

export const EnrollBody = Type.Object(
  {
    type: Type.Literal('totp'),
    label: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    algorithm: Type.Optional(Type.Enum(['SHA1', 'SHA256', 'SHA512'])),
    digits: Type.Optional(Type.Enum([6, 7, 8])),
    period: Type.Optional(Type.Integer({ minimum: 10, maximum: 300 })),
  },
  { additionalProperties: false },
);

export const EnrollmentResultSchema = Type.Object({
  method: MethodViewSchema,
  secret: Type.String({ description: 'Base32, shown once' }),
  otpauthUri: Type.String({ description: 'otpauth:// provisioning URI, shown once' }),
  qrSvg: Type.String({ description: 'QR code of the otpauth URI as an SVG document, shown once' }),
});

export const MethodParams = Type.Object({ username: Username, id: Id }, { additionalProperties: false });

export const Passcode = Type.String({ minLength: 1, maxLength: 64 });
export const ResyncBody = Type.Object({ code1: Passcode, code2: Passcode }, { additionalProperties: false });

// ---------------------------------------------------------------------------------------------
// Authentications

export const AuthenticationViewSchema = Type.Object({
  id: Id,
  state: Type.Enum(['challenge', 'pending', 'approved', 'denied', 'expired']),
  username: Type.String(),
  application: Type.String(),
  method: Nullable(MethodTypeSchema),
  createdAt: Millis,
  expiresAt: Millis,
  message: Type.String({ description: 'The same text for every failure' }),
  match: Type.Optional(Type.Integer({ description: 'Push (mobile app) requests just started: the number to show the user, who picks it in the app. Poll until approved, denied or expired.' })),
  sentTo: Type.Optional(Type.String({ description: 'A texted code or a phone call just started: the phone it went to, masked (e.g. "••• 0100")' })),
});

export const CreateAuthenticationBody = Type.Object(
  {
    username: Username,
    application: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: "Application name; 'default' when omitted" })),
    clientIp: Type.Optional(
      Nullable(Type.String({ minLength: 2, maxLength: 64, description: "End user's address, for trusted networks and the approval cache; neither applies when omitted" })),
    ),
    passcode: Type.Optional(Passcode),
    method: Type.Optional(MethodTypeSchema),
  },
  { additionalProperties: false },
);

export const PasscodeBody = Type.Object({ passcode: Passcode }, { additionalProperties: false });
export const IdParams = Type.Object({ id: Id }, { additionalProperties: false });

// ---------------------------------------------------------------------------------------------
// Bypass

export const BypassViewSchema = Type.Object({
  username: Type.String(),
  reason: Type.String(),
  createdBy: Type.String(),
  createdAt: Millis,
  expiresAt: Millis,
  usedAt: Nullable(Millis),
});

export const IssueBypassBody = Type.Object(
  {
    seconds: Type.Optional(Type.Integer({ minimum: 1, description: "Lifetime; the company default when omitted, at most the company maximum" })),
    reason: Reason,
  },
  { additionalProperties: false },
);

// ---------------------------------------------------------------------------------------------
// Settings

const NonNegative = Type.Integer({ minimum: 0 });
const Networks = List(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 1000, description: 'Addresses, ranges a-b or CIDRs' });

/** The portal settings' fields, for the settings and (each optional) for a patch of them. */
function portalSettingsFields() {
  return {
    allowEnrollment: Type.Boolean(),
    enrollMethods: List(MethodTypeSchema),
    questionsAsked: Type.Integer({ minimum: 0, description: 'Security questions asked at a portal sign-in that uses them (1 to 4)' }),
    allowPhoneChange: Type.Boolean(),
    allowPinChange: Type.Boolean(),
    allowLanguageChange: Type.Boolean(),
    allowMethodChange: Type.Boolean(),
    allowBypass: Type.Boolean(),
    bypassSeconds: NonNegative,
    trustedIpsSkipSecondFactor: Type.Boolean(),
  };
}

export const SettingsSchema = Type.Object({
  lockout: Type.Object({ threshold: NonNegative, autoUnlockSeconds: NonNegative }),
  bypass: Type.Object({ defaultSeconds: NonNegative, maxSeconds: NonNegative }),
  cacheSeconds: NonNegative,
  trustedIps: Networks,
  totp: Type.Object({ window: NonNegative }),
  hotp: Type.Object({ lookAhead: NonNegative }),
  challengeSeconds: NonNegative,
  defaultLanguage: Type.String(),
  pin: Type.Object({ minLength: NonNegative, maxLength: NonNegative, refuseTrivial: Type.Boolean() }),
  portal: Type.Object(portalSettingsFields()),
  fraud: Type.Object({ allowReports: Type.Boolean(), blockUser: Type.Boolean() }),
  sessions: Type.Object({ idleSeconds: NonNegative, absoluteSeconds: NonNegative, reauthSeconds: NonNegative }),
  retention: Type.Object({
    auditDays: Type.Integer({ minimum: 0, description: 'days audit events are kept; 0 keeps them forever' }),
    authenticationDays: Type.Integer({ minimum: 1, description: 'days authentication records are kept' }),
  }),
});

/** A nested settings object in a patch: any of its fields, nothing else (the core checks the values). */
const PatchOf = <T extends Record<string, TSchema>>(fields: T) =>
  Type.Optional(Type.Object(Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, Type.Optional(v)])) as { [K in keyof T]: ReturnType<typeof Type.Optional<T[K]>> }, { additionalProperties: false }));

export const SettingsPatchBody = Type.Object(
  {
    lockout: Type.Optional(Type.Object({ threshold: Type.Optional(NonNegative), autoUnlockSeconds: Type.Optional(NonNegative) }, { additionalProperties: false })),
    bypass: Type.Optional(Type.Object({ defaultSeconds: Type.Optional(NonNegative), maxSeconds: Type.Optional(NonNegative) }, { additionalProperties: false })),
    cacheSeconds: Type.Optional(NonNegative),
    trustedIps: Type.Optional(Networks),
    totp: Type.Optional(Type.Object({ window: Type.Optional(NonNegative) }, { additionalProperties: false })),
    hotp: Type.Optional(Type.Object({ lookAhead: Type.Optional(NonNegative) }, { additionalProperties: false })),
    challengeSeconds: Type.Optional(NonNegative),
    defaultLanguage: Type.Optional(Type.String({ minLength: 2, maxLength: 35 })),
    pin: PatchOf({ minLength: NonNegative, maxLength: NonNegative, refuseTrivial: Type.Boolean() }),
    portal: PatchOf({ ...portalSettingsFields(), enrollMethods: List(MethodTypeSchema, { uniqueItems: true }) }),
    fraud: PatchOf({ allowReports: Type.Boolean(), blockUser: Type.Boolean() }),
    sessions: PatchOf({ idleSeconds: NonNegative, absoluteSeconds: NonNegative, reauthSeconds: NonNegative }),
    retention: PatchOf({ auditDays: NonNegative, authenticationDays: NonNegative }),
  },
  { additionalProperties: false },
);

// ---------------------------------------------------------------------------------------------
// Applications

export const ApplicationName = Type.String({ minLength: 1, maxLength: 128 });
export const ApplicationParams = Type.Object({ name: ApplicationName }, { additionalProperties: false });

export const ApplicationSchema = Type.Object({
  id: Id,
  name: Type.String(),
  requireUserMatch: Type.Boolean({ description: 'Unknown users are denied (true) or pass without a second factor (false)' }),
  trustedIps: List(Type.String()),
  cacheSeconds: Nullable(Type.Integer({ description: '0 = off; null = company setting' })),
  allowedMethods: Nullable(List(MethodTypeSchema, { description: 'null = all' })),
  createdAt: Millis,
  updatedAt: Millis,
});

export const ApplicationList = Type.Object({ items: List(ApplicationSchema) });

const applicationFields = {
  requireUserMatch: Type.Optional(Type.Boolean()),
  trustedIps: Type.Optional(Networks),
  cacheSeconds: Type.Optional(Nullable(NonNegative)),
  allowedMethods: Type.Optional(Nullable(List(MethodTypeSchema, { uniqueItems: true }))),
};

export const CreateApplicationBody = Type.Object({ name: ApplicationName, ...applicationFields }, { additionalProperties: false });
export const UpdateApplicationBody = Type.Object({ name: Type.Optional(ApplicationName), ...applicationFields }, { additionalProperties: false, minProperties: 1 });

// ---------------------------------------------------------------------------------------------
// API keys

export const ApiKeyViewSchema = Type.Object({
  id: Id,
  name: Type.String(),
  role: RoleSchema,
  prefix: Type.String({ description: 'Public prefix of the key, to recognise it' }),
  createdAt: Millis,
  lastUsedAt: Nullable(Millis),
  revokedAt: Nullable(Millis),
});

export const ApiKeyList = Type.Object({ items: List(ApiKeyViewSchema) });

export const CreateApiKeyBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }), role: RoleSchema }, { additionalProperties: false });

export const CreatedApiKeySchema = Type.Object({
  key: ApiKeyViewSchema,
  token: Type.String({ description: 'The bearer token, shown once' }),
});

// ---------------------------------------------------------------------------------------------
// Directory synchronization

export const DirectoryName = Type.String({ minLength: 1, maxLength: 128, description: 'Name of the directory source in the configuration' });
export const DirectoryParams = Type.Object({ name: DirectoryName }, { additionalProperties: false });
export const SyncRunParams = Type.Object({ name: DirectoryName, id: Id }, { additionalProperties: false });

export const SyncScopeSchema = Type.Union(
  [
    Type.Object({ kind: Type.Literal('ou'), dn: Type.String({ description: 'Users anywhere under this entry' }) }),
    Type.Object({ kind: Type.Literal('group'), dn: Type.String({ description: 'Members of this group (nested groups included)' }) }),
    Type.Object({ kind: Type.Literal('filter'), filter: Type.String({ description: "RFC 4515 filter, combined with the map's user filter" }) }),
  ],
  { description: 'Which entries a sync item takes' },
);

export const SyncCountsSchema = Type.Object({
  seen: Type.Integer({ description: 'Directory entries read in scope' }),
  added: Type.Integer(),
  updated: Type.Integer(),
  unchanged: Type.Integer(),
  disabled: Type.Integer({ description: 'Users disabled (directory account disabled, or left the scope with removal "disable")' }),
  enabled: Type.Integer({ description: 'Users the synchronization had disabled, enabled again' }),
  removed: Type.Integer({ description: 'Users deleted (left the scope with removal "delete")' }),
  errors: Type.Integer({ description: 'Exact count; `errors` of the run lists the first 100' }),
  skipped: Type.Integer({ description: 'Entries without a usable login name or stable id' }),
});

export const SyncRunErrorSchema = Type.Object({
  dn: Type.String(),
  username: Nullable(Type.String()),
  code: Type.String(),
  message: Type.String(),
});

export const PendingChangeSchema = Type.Object({
  userId: Id,
  username: Type.String(),
  externalId: Type.String(),
  action: Type.Enum(['disable', 'delete']),
  reason: Type.Enum(['directory_disabled', 'left_scope']),
});

export const SyncRunSchema = Type.Object({
  id: Id,
  directory: Type.String(),
  mode: Type.Enum(['full', 'incremental'], { description: 'What actually ran: an incremental request without a usable cursor runs full' }),
  trigger: Type.Enum(['schedule', 'manual', 'approval']),
  status: Type.Enum(['running', 'completed', 'failed', 'interrupted', 'awaiting_approval', 'approved', 'rejected', 'superseded'], {
    description:
      'awaiting_approval: more users would be disabled or removed than the threshold allows, listed in `pending`; ' +
      'interrupted: the server running it stopped; superseded: a newer run made a newer list',
  }),
  node: Type.String({ description: 'The server (host:pid) that ran it' }),
  startedAt: Millis,
  finishedAt: Nullable(Millis),
  counts: SyncCountsSchema,
  errors: List(SyncRunErrorSchema, { description: 'The first 100 errors' }),
  pending: List(PendingChangeSchema, { description: 'Disables and removals waiting for a decision' }),
  failure: Nullable(Type.String({ description: 'Why the run failed' })),
  decidedBy: Nullable(Type.String({ description: 'Who approved or rejected the pending list' })),
  decidedAt: Nullable(Millis),
});

export const SyncRunList = Type.Object({ items: List(SyncRunSchema) });

export const DirectorySyncStatusSchema = Type.Object({
  directory: Type.String(),
  scheduled: Type.Boolean({ description: 'Runs on the schedule (false: on demand only)' }),
  intervalMinutes: Type.Integer({ description: 'Minutes between scheduled runs' }),
  fullSyncHours: Type.Integer({ description: 'A scheduled run is full when the last full run is older than this' }),
  removal: Type.Enum(['disable', 'delete', 'none'], { description: "What happens to users no longer in any item's scope" }),
  removalThreshold: Type.Integer({ description: 'More disables and removals than this in one run wait for approval' }),
  items: List(Type.Object({ name: Type.String(), scope: SyncScopeSchema }), { description: 'Sync items, in priority order' }),
  incremental: Nullable(Type.Object({ attribute: Type.String({ description: 'uSNChanged, entryCSN or modifyTimestamp' }) })),
  state: Nullable(
    Type.Object({
      directory: Type.String(),
      cursor: Nullable(Type.Object({ attribute: Type.String(), value: Type.String(), url: Type.String() }, { description: 'Where incremental runs resume' })),
      lastFullAt: Nullable(Millis),
      lastRunAt: Nullable(Millis),
    }),
  ),
  runningOn: Nullable(Type.String({ description: 'The server running a synchronization of this directory now' })),
  lastRun: Nullable(SyncRunSchema),
  awaitingApproval: List(Id, { description: "Ids of runs waiting for an administrator's decision" }),
  nextRunAt: Nullable(Millis),
});

export const DirectorySyncStatusList = Type.Object({ items: List(DirectorySyncStatusSchema) });

// ---------------------------------------------------------------------------------------------
// Directories

export const DirectorySchema = Type.Object({
  name: Type.String(),
  preset: Type.String({ description: 'activeDirectory or openldap: the attribute map the source starts from' }),
  urls: List(Type.String(), { description: 'Tried in order for every connection' }),
  baseDn: Type.String(),
  bindDn: Type.String({ description: 'The service account (its password is never shown)' }),
  startTls: Type.Boolean(),
  rejectUnauthorized: Type.Boolean({ description: "The directory's certificate and host name are verified" }),
  loginAttribute: Type.String({ description: 'Attribute holding the login name, e.g. sAMAccountName or uid' }),
  sync: Type.Union([DirectorySyncStatusSchema, Type.Null()], { description: 'Synchronization status; null when the source has no `sync` block' }),
});

export const DirectoryList = Type.Object({ items: List(DirectorySchema) });

export const ConnectionReportSchema = Type.Object({
  ok: Type.Boolean({ description: 'A URL accepted the service account and its base DN could be read' }),
  url: Type.Optional(Type.String({ description: 'The URL that answered' })),
  attempts: List(DirectoryAttemptSchema, { description: 'One per URL tried, in order' }),
});

export const DirectoryUserSchema = Type.Object({
  username: Type.String(),
  displayName: Nullable(Type.String()),
  email: Nullable(Type.String()),
  disabled: Type.Boolean({ description: 'The directory account is disabled: the user is imported disabled' }),
  externalId: Type.String({ description: 'Stable id the user is matched by (objectGUID, entryUUID)' }),
  dn: Type.String(),
  warnings: List(Type.String(), { description: 'Attributes left out for failing validation' }),
});

const SkippedEntrySchema = Type.Object({ dn: Type.String(), message: Type.String() }, { description: 'An entry that matched but cannot be imported (no login name, no stable id)' });

export const DirectorySearchResultSchema = Type.Object({
  users: List(DirectoryUserSchema),
  skipped: List(SkippedEntrySchema),
});

export const DirectoryImportResultSchema = Type.Object({
  dryRun: Type.Boolean({ description: 'Nothing was written: the counts say what an import would do' }),
  total: Type.Integer({ description: 'Directory users found' }),
  created: Type.Integer(),
  updated: Type.Integer({ description: 'Existing users whose attributes changed' }),
  unchanged: Type.Integer(),
  disabled: Type.Integer({ description: 'Users disabled because their directory account is disabled' }),
  errors: List(
    Type.Object({
      dn: Type.String(),
      username: Type.String(),
      code: Type.String({ description: 'source_conflict (the name belongs to a local user or another directory) or the core\'s code, e.g. validation_failed' }),
      message: Type.String(),
    }),
  ),
  warnings: List(Type.Object({ dn: Type.String(), message: Type.String() }), { description: 'Attributes left out for failing validation' }),
  skipped: List(SkippedEntrySchema),
});

// ---------------------------------------------------------------------------------------------
// Reports

const ResultCounts = { approved: Type.Integer(), denied: Type.Integer() };

export const SignInReportSchema = Type.Object({
  bucket: Type.Enum(['hour', 'day']),
  series: List(Type.Object({ at: Millis, ...ResultCounts, expired: Type.Integer() }), {
    description: 'One point per bucket (UTC hour or day), oldest first; `at` is the start of the bucket; empty buckets are zeros',
  }),
  byMethod: List(Type.Object({ method: Type.String({ description: "Method type, or 'none' when the decision came before a method (unknown user, locked...)" }), ...ResultCounts })),
  byApplication: List(Type.Object({ application: Type.String(), ...ResultCounts })),
});

export const DashboardSummarySchema = Type.Object({
  users: Type.Object(
    { total: Type.Integer(), enabled: Type.Integer(), locked: Type.Integer(), blocked: Type.Integer(), disabled: Type.Integer() },
    { description: 'Users by effective state (disabled > blocked > locked > enabled); the four add up to total' },
  ),
  recentFailures: List(AuditEventSchema, { description: 'The last 10 denied authentications, newest first' }),
  fraudReports: List(AuditEventSchema, { description: 'The last 10 fraud reports (user.fraud_report), newest first' }),
  server: Type.Object({
    serverName: Type.String(),
    version: Type.String(),
    startedAt: Millis,
    store: Type.Enum(['sqlite', 'postgres']),
  }),
});

// ---------------------------------------------------------------------------------------------
// Ops

export const StatusSchema = Type.Object({ status: Type.String() });

// ---------------------------------------------------------------------------------------------
// Route helpers

/** A Fastify instance typed by the TypeBox provider: request types come from the route schemas. */
export type Api = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

export const NoContent = Type.Null({ description: 'No content' });
