/**
 * The one place where errors become HTTP responses. Every error leaves as
 * `application/problem+json` (RFC 9457): `{type, title, status, detail, code, errors?, attempts?}`
 * where `code` is stable (the core's ErrorCode, the directory codes, or one of the few transport
 * codes below), `errors` lists field-level problems as `{field, in?, message}` with dotted field
 * paths, and `attempts` (an extension member, with `directory_unavailable` only) lists each URL of
 * the directory tried and why it failed.
 *
 * Internal errors never leak: a 5xx carries a generic detail, and the cause goes to the log.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CoreError } from '../../core/errors.ts';
import type { ErrorCode } from '../../core/errors.ts';
import { DirectoryUnavailableError, type DirectoryAttempt } from '../../directory/connection.ts';
import { DirectoryNotFoundError } from '../../directory/directory-service.ts';
import { SyncServiceError } from '../../directory/sync-service.ts';
import { SyncApprovalError } from '../../directory/sync.ts';

/** Codes produced by the HTTP transport itself, in addition to the core's. */
export type TransportCode = 'payload_too_large' | 'unsupported_media_type' | 'not_ready';
/** Codes of the directory synchronization service (a new one there fails to compile here until mapped). */
export type DirectorySyncCode = SyncServiceError['code'] | SyncApprovalError['code'];
/** Codes of the directory sources (list, test, search, import). */
export type DirectoryCode = DirectoryNotFoundError['code'] | 'directory_unavailable';
export type ProblemCode = ErrorCode | TransportCode | DirectorySyncCode | DirectoryCode;

export interface FieldProblem {
  readonly field: string;
  readonly in?: 'body' | 'query' | 'params' | 'headers';
  readonly message: string;
}

export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: ProblemCode;
  readonly errors?: readonly FieldProblem[];
  /** directory_unavailable: each URL tried, in order (never the password). */
  readonly attempts?: readonly DirectoryAttempt[];
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

const STATUS = {
  validation_failed: 400,
  not_found: 404,
  user_not_found: 404,
  user_exists: 409,
  application_exists: 409,
  application_not_found: 404,
  method_not_found: 404,
  authentication_not_found: 404,
  authentication_closed: 409,
  unauthenticated: 401,
  forbidden: 403,
  rate_limited: 429,
  conflict: 409,
  resync_failed: 422,
  code_rejected: 422,
  activation_failed: 422,
  import_failed: 422,
  delivery_failed: 502,
  store_unavailable: 503,
  config_invalid: 500,
  internal: 500,
  payload_too_large: 413,
  unsupported_media_type: 415,
  not_ready: 503,
  directory_not_found: 404,
  sync_running: 409,
  run_not_found: 404,
  not_awaiting_approval: 409,
  directory_unavailable: 503,
} as const satisfies Record<ProblemCode, number>;

const TITLE = {
  validation_failed: 'Invalid request',
  not_found: 'Not found',
  user_not_found: 'User not found',
  user_exists: 'User already exists',
  application_exists: 'Application already exists',
  application_not_found: 'Application not found',
  method_not_found: 'Method not found',
  authentication_not_found: 'Authentication not found',
  authentication_closed: 'Authentication already finished',
  unauthenticated: 'Authentication required',
  forbidden: 'Forbidden',
  rate_limited: 'Too many requests',
  conflict: 'Conflict',
  resync_failed: 'Resynchronization failed',
  code_rejected: 'Code rejected',
  activation_failed: 'Activation failed',
  import_failed: 'Import failed',
  delivery_failed: 'Message not delivered',
  store_unavailable: 'Service unavailable',
  config_invalid: 'Server misconfigured',
  internal: 'Internal error',
  payload_too_large: 'Payload too large',
  unsupported_media_type: 'Unsupported media type',
  not_ready: 'Not ready',
  directory_not_found: 'Directory not found',
  sync_running: 'Synchronization already running',
  run_not_found: 'Synchronization run not found',
  not_awaiting_approval: 'Run not awaiting approval',
  directory_unavailable: 'Directory unavailable',
} as const satisfies Record<ProblemCode, string>;

/** Details never shown for server-side failures. */
const GENERIC_DETAIL: Partial<Record<ProblemCode, string>> = {
  store_unavailable: 'The service is temporarily unavailable.',
  config_invalid: 'The server is misconfigured.',
  internal: 'An internal error occurred.',
};

/** "a synchronization ... is running" -> "A synchronization ... is running." (the service's messages are lower-case clauses). */
function sentence(message: string): string {
  const s = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

export function statusOf(code: ProblemCode): number {
  return STATUS[code];
}

export function problem(code: ProblemCode, detail: string, errors?: readonly FieldProblem[]): ProblemBody {
  const body: ProblemBody = {
    type: `urn:countersign:problem:${code}`,
    title: TITLE[code],
    status: STATUS[code],
    detail: GENERIC_DETAIL[code] ?? detail,
    code,
  };
  return errors && errors.length > 0 ? { ...body, errors } : body;
}

/** An error that is already a problem (transport-level refusals raised inside handlers). */
export class ProblemError extends Error {
  readonly body: ProblemBody;
  constructor(body: ProblemBody) {
    super(body.detail);
    this.name = 'ProblemError';
    this.body = body;
  }
}

/** Sends a problem response (used by hooks that answer before any handler runs). */
export function sendProblem(reply: FastifyReply, body: ProblemBody, headers?: Readonly<Record<string, string>>): FastifyReply {
  if (body.status === 401) reply.header('www-authenticate', 'Bearer realm="countersign"');
  if (headers) reply.headers(headers);
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

// ---------------------------------------------------------------------------------------------
// Validation errors from the route schemas (TypeBox, ajv-shaped)

interface SchemaError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly schemaPath: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly message?: string;
}

const CONTEXT: Readonly<Record<string, FieldProblem['in']>> = {
  body: 'body',
  querystring: 'query',
  params: 'params',
  headers: 'headers',
};

/** "/phone/number" -> "phone.number"; "/trustedIps/0" -> "trustedIps[0]". */
export function fieldPath(pointer: string, child?: string): string {
  const parts = pointer === '' ? [] : pointer.slice(1).split('/');
  if (child !== undefined) parts.push(child);
  let out = '';
  for (const raw of parts) {
    const part = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (/^\d+$/.test(part)) out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

function describeAlternative(e: SchemaError): string {
  if (e.keyword === 'const') return JSON.stringify(e.params['allowedValue']);
  if (e.keyword === 'type') return String(e.params['type']);
  if (e.keyword === 'enum') return (e.params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(' or ');
  return e.message ?? e.keyword;
}

function messageOf(e: SchemaError): string {
  if (e.keyword === 'enum') {
    return `must be one of: ${(e.params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (e.keyword === 'const') return `must be ${JSON.stringify(e.params['allowedValue'])}`;
  return e.message ?? `fails ${e.keyword}`;
}

/**
 * Turns schema errors into one readable problem per field. Alternatives (anyOf, e.g. "string or
 * null") are reported once: "must be string or null" when the value had the wrong type, or the
 * errors of the branch that went deeper when the value had the right shape but wrong content.
 * (TypeBox stops after 8 errors, so a very bad body is reported in part.)
 */
export function fieldProblems(errors: readonly SchemaError[], where: FieldProblem['in']): FieldProblem[] {
  const out = new Map<string, FieldProblem>();
  const add = (field: string, message: string): void => {
    if (!out.has(field)) out.set(field, where ? { field, in: where, message } : { field, message });
  };
  const single = (e: SchemaError): void => {
    if (e.keyword === 'required') {
      for (const name of (e.params['requiredProperties'] as string[] | undefined) ?? []) add(fieldPath(e.instancePath, name), 'is required');
    } else if (e.keyword === 'additionalProperties') {
      for (const name of (e.params['additionalProperties'] as string[] | undefined) ?? []) add(fieldPath(e.instancePath, name), 'is not allowed');
    } else if (e.keyword === 'boolean') {
      add(fieldPath(e.instancePath), 'is not allowed');
    } else if (e.keyword === 'anyOf') {
      add(fieldPath(e.instancePath), 'has an invalid value');
    } else {
      add(fieldPath(e.instancePath), messageOf(e));
    }
  };

  // Group the errors of each outermost anyOf (the anyOf error itself and its branches' errors).
  const groups = new Map<string, SchemaError[]>();
  for (const e of errors) {
    const at = e.schemaPath.indexOf('/anyOf/');
    const key = at !== -1 ? e.schemaPath.slice(0, at) : e.keyword === 'anyOf' ? e.schemaPath : undefined;
    if (key === undefined) {
      single(e);
      continue;
    }
    const group = groups.get(key);
    if (group) group.push(e);
    else groups.set(key, [e]);
  }
  for (const [key, group] of groups) {
    const root = group.find((e) => e.keyword === 'anyOf' && e.schemaPath === key);
    const branches = group.filter((e) => e !== root);
    const path = root?.instancePath ?? branches.reduce((p, e) => (e.instancePath.length < p.length ? e.instancePath : p), branches[0]?.instancePath ?? '');
    const deeper = branches.filter((e) => e.instancePath !== path || e.keyword === 'required' || e.keyword === 'additionalProperties' || e.keyword === 'boolean');
    if (deeper.length > 0) {
      for (const e of deeper) single(e);
    } else {
      const alternatives = [...new Set(branches.map(describeAlternative))];
      add(fieldPath(path), alternatives.length > 0 ? `must be ${alternatives.join(' or ')}` : 'has an invalid value');
    }
  }
  return [...out.values()];
}

// ---------------------------------------------------------------------------------------------
// Mapping any error to a problem

export interface MappedError {
  readonly body: ProblemBody;
  /** Whether the error is the server's fault (logged at error level with its cause). */
  readonly serverFault: boolean;
}

export function toProblem(err: unknown): MappedError {
  if (err instanceof ProblemError) return { body: err.body, serverFault: err.body.status >= 500 };
  if (err instanceof CoreError) {
    const errors = err.details ? Object.entries(err.details).map(([field, message]) => ({ field, message })) : undefined;
    const body = problem(err.code, err.message, errors);
    return { body, serverFault: body.status >= 500 };
  }
  if (err instanceof SyncServiceError || err instanceof SyncApprovalError || err instanceof DirectoryNotFoundError) {
    return { body: problem(err.code, sentence(err.message)), serverFault: false };
  }
  if (err instanceof DirectoryUnavailableError) {
    // The directory's failure, not this server's: the caller sees where each URL failed.
    return { body: { ...problem('directory_unavailable', sentence(err.message)), attempts: err.attempts }, serverFault: false };
  }
  const fe = err as Partial<FastifyError> & { validation?: SchemaError[]; validationContext?: string };
  if (Array.isArray(fe.validation)) {
    const where = CONTEXT[fe.validationContext ?? 'body'];
    const errors = fieldProblems(fe.validation, where);
    const summary = errors.map((e) => `${e.field === '' ? (where ?? 'request') : e.field} ${e.message}`).join('; ');
    return { body: problem('validation_failed', `Invalid ${where ?? 'request'}: ${summary}`, errors), serverFault: false };
  }
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { body: problem('validation_failed', 'The request body is not valid JSON.'), serverFault: false };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { body: problem('validation_failed', 'The request body is empty but its content type is JSON.'), serverFault: false };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { body: problem('payload_too_large', 'The request body is too large.'), serverFault: false };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { body: problem('unsupported_media_type', 'The request content type is not supported by this route.'), serverFault: false };
    default:
      break;
  }
  if (status === 413) return { body: problem('payload_too_large', 'The request body is too large.'), serverFault: false };
  if (status === 415) return { body: problem('unsupported_media_type', 'The request content type is not supported.'), serverFault: false };
  if (status === 404) return { body: problem('not_found', 'Not found.'), serverFault: false };
  if (status >= 400 && status < 500) return { body: problem('validation_failed', 'The request is malformed.'), serverFault: false };
  return { body: problem('internal', ''), serverFault: true };
}

/** Installs the error and not-found handlers on the root instance. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const mapped = toProblem(err);
    if (mapped.serverFault) request.log.error({ err }, 'request failed');
    else request.log.debug({ code: mapped.body.code }, 'request refused');
    return sendProblem(reply, mapped.body);
  });
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    return sendProblem(reply, problem('not_found', `No route ${request.method} ${request.url.split('?')[0]}.`));
  });
}
