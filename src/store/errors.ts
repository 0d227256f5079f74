/** Maps driver errors to core errors: connection trouble becomes 'store_unavailable'. */
import { CoreError } from '../core/errors.ts';

interface DriverError {
  code?: unknown;
  constraint?: unknown;
  message?: unknown;
}

const NODE_CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE']);

/** True when the database could not be reached or used at all (as opposed to a bad statement). */
export function isUnavailable(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const { code, message } = e as DriverError;
  if (typeof code === 'string') {
    if (NODE_CONNECTION_CODES.has(code)) return true;
    // PostgreSQL SQLSTATE classes: 08 connection exception, 53 insufficient resources,
    // 57P0x shutdown / cannot connect now, 28 invalid authorization, 3D000 unknown database.
    if (/^(08|53|57P0|28)/.test(code) || code === '3D000') return true;
    if (/^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|READONLY|NOTADB|CORRUPT)/.test(code)) return true;
  }
  return typeof message === 'string' && /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(message);
}

/** Unique constraint violated; `name` is matched against the constraint or the column list. */
export function isUniqueViolation(e: unknown, name: string): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const { code, constraint, message } = e as DriverError;
  if (code === '23505') return typeof constraint === 'string' && constraint.includes(name);
  return code === 'SQLITE_CONSTRAINT_UNIQUE' && typeof message === 'string' && message.includes(name);
}

export function isForeignKeyViolation(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const { code } = e as DriverError;
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/** CoreErrors pass through; unavailability becomes 'store_unavailable'; anything else is rethrown as is. */
export function translateError(e: unknown): unknown {
  if (e instanceof CoreError || !isUnavailable(e)) return e;
  const error = new CoreError('store_unavailable', `database unavailable: ${describe(e)}`);
  (error as { cause?: unknown }).cause = e;
  return error;
}

function describe(e: unknown): string {
  const { code, message } = e as DriverError;
  return [typeof code === 'string' ? code : undefined, typeof message === 'string' ? message : undefined].filter(Boolean).join(' ');
}

/** Wraps every method of a store part so driver errors reach callers translated. */
export function withTranslatedErrors<T extends object>(part: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(part)) {
    wrapped[name] =
      typeof value === 'function'
        ? async (...args: unknown[]) => {
            try {
              return await (value as (...a: unknown[]) => Promise<unknown>).apply(part, args);
            } catch (e) {
              throw translateError(e);
            }
          }
        : value;
  }
  return wrapped as T;
}
