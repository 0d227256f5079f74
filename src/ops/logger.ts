/**
 * The process logger: pino, JSON lines on stdout (or one readable line per entry with `pretty`).
 * Redaction happens before serialization, so no secret reaches any output: authorization and cookie
 * headers, passcodes, OTP secrets and provisioning URIs, PINs, passwords, API tokens and hashes are
 * replaced by "[Redacted]" wherever they appear in the first three levels of a logged object (keys
 * compared without regard to case), in a child logger's bindings, and in a serialized error.
 *
 * The redaction is a walk of the logged object that copies only what it changes, instead of
 * pino's path-based redaction: with paths that start with a wildcard, pino's runs over every
 * value of every entry and over every child logger's bindings (each HTTP request makes a child
 * logger), which cost about 15 µs per line and 4 µs per request.
 */
import { pino } from 'pino';
import type { DestinationStream, Level, Logger } from 'pino';

export interface LoggerOptions {
  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  readonly level: string;
  /** One human-readable line per entry instead of JSON (for a terminal). */
  readonly pretty?: boolean;
  /** Where lines go (default stdout). */
  readonly destination?: DestinationStream;
}

/** Object keys whose values are never logged. */
export const REDACTED_KEYS = [
  'authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'passcode',
  'secret',
  'pin',
  'password',
  'token',
  'otpauthUri',
  'qrSvg',
  'code1',
  'code2',
  'apiKey',
  'pinHash',
  'passwordHash',
  'hash',
  'bindPassword',
] as const;

const CENSOR = '[Redacted]';
const REDACTED = new Set<string>(REDACTED_KEYS.map((k) => k.toLowerCase()));
/** How deep keys are looked at: the logged object's own keys are level 1. */
const LEVELS_CHECKED = 3;
/** Top-level keys that pino hands to the serializers below, which redact what they return. */
const SERIALIZED: ReadonlySet<string> = new Set(['req', 'res', 'err']);
const NONE: ReadonlySet<string> = new Set();

/**
 * `value` with every redacted key within `levels` levels censored; the same object when nothing is.
 * Its own keys in `skip` are left as they are (those a serializer handles).
 */
function censored(value: unknown, levels: number, skip: ReadonlySet<string> = NONE): unknown {
  if (typeof value !== 'object' || value === null) return value;
  // What JSON.stringify will write: toJSON's result where there is one (a Date, a Buffer, a URL).
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  const source = typeof toJSON === 'function' ? (toJSON as () => unknown).call(value) : value;
  if (typeof source !== 'object' || source === null) return value;
  if (Array.isArray(source)) {
    if (levels <= 1) return value;
    let out: unknown[] | undefined;
    source.forEach((item: unknown, i) => {
      const c = censored(item, levels - 1);
      if (c !== item) (out ??= [...(source as unknown[])])[i] = c;
    });
    return out ?? value;
  }
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(source)) {
    if (skip.has(key)) continue;
    const item = (source as Record<string, unknown>)[key];
    const c = REDACTED.has(key.toLowerCase()) ? CENSOR : levels > 1 ? censored(item, levels - 1) : item;
    if (c !== item) (out ??= { ...(source as Record<string, unknown>) })[key] = c;
  }
  return out ?? value;
}

function isPlain(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null || Array.isArray(value);
}

interface RequestLike {
  readonly method?: string;
  readonly url?: string;
  readonly host?: string;
  readonly ip?: string;
  readonly headers?: Record<string, unknown>;
  readonly socket?: { readonly remoteAddress?: string; readonly remotePort?: number } | null;
}

/**
 * The serializers of `req`, `res` and `err` (the HTTP server's request and reply, and errors; they
 * replace the HTTP framework's own). A request or reply object is reduced to its method, URL,
 * addresses or status; a plain object under those keys and a serialized error are redacted.
 */
const SERIALIZERS = {
  req: (r: RequestLike): unknown =>
    isPlain(r)
      ? censored(r, LEVELS_CHECKED - 1)
      : { method: r.method, url: r.url, host: r.host ?? r.headers?.['host'], remoteAddress: r.ip ?? r.socket?.remoteAddress, remotePort: r.socket?.remotePort },
  res: (r: { readonly statusCode?: number }): unknown => (isPlain(r) ? censored(r, LEVELS_CHECKED - 1) : { statusCode: r.statusCode }),
  err: (e: Error): unknown => (e instanceof Error ? censored(pino.stdSerializers.err(e), LEVELS_CHECKED - 1) : censored(e, LEVELS_CHECKED - 1)),
};

/** A logged object (or a child's bindings) with its secrets censored, the serialized keys left to their serializers. */
export function redact(entry: Record<string, unknown>): Record<string, unknown> {
  return censored(entry, LEVELS_CHECKED, SERIALIZED) as Record<string, unknown>;
}

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export function createLogger(opts: LoggerOptions): Logger {
  if (!LEVELS.has(opts.level)) {
    throw new Error(`log level "${opts.level}" is not one of: ${[...LEVELS].join(', ')}`);
  }
  const options = {
    level: opts.level as Level | 'silent',
    formatters: { log: redact },
    serializers: SERIALIZERS,
    base: { pid: process.pid },
  };
  const destination = opts.destination ?? pino.destination(1);
  const logger = pino(options, opts.pretty ? prettyStream(destination) : destination);
  // A child logger's bindings are redacted too. Children are made from their parent with
  // Object.create, so every descendant inherits this child().
  const child = logger.child;
  logger.child = function redactedChild(this: Logger, bindings, childOptions) {
    return child.call(this, redact(bindings), childOptions);
  } as Logger['child'];
  return logger;
}

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

/** Turns pino's JSON lines into `12:00:00.000 INFO  message key=value ...`. */
function prettyStream(out: DestinationStream): DestinationStream {
  return {
    write(line: string): void {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      const time = typeof entry['time'] === 'number' ? new Date(entry['time']).toISOString().slice(11, 23) : '';
      const level = (LEVEL_NAMES[entry['level'] as number] ?? String(entry['level'])).padEnd(5);
      let text = `${time} ${level} ${typeof entry['msg'] === 'string' ? entry['msg'] : ''}`;
      for (const [k, v] of Object.entries(entry)) {
        if (OMIT.has(k)) continue;
        text += ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
      }
      out.write(text + '\n');
    },
  };
}
