/**
 * The process logger: pino, JSON lines on stdout (or one readable line per entry with `pretty`).
 * Redaction happens before serialization, so no secret reaches any output: authorization and cookie
 * headers, passcodes, OTP secrets and provisioning URIs, PINs, passwords, API tokens and hashes are
 * replaced by "[Redacted]" wherever they appear in the first three levels of a logged object.
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

export const REDACT_PATHS: readonly string[] = [
  ...REDACTED_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
];

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export function createLogger(opts: LoggerOptions): Logger {
  if (!LEVELS.has(opts.level)) {
    throw new Error(`log level "${opts.level}" is not one of: ${[...LEVELS].join(', ')}`);
  }
  const options = {
    level: opts.level as Level | 'silent',
    redact: { paths: [...REDACT_PATHS], censor: '[Redacted]' },
    base: { pid: process.pid },
  };
  const destination = opts.destination ?? pino.destination(1);
  return pino(options, opts.pretty ? prettyStream(destination) : destination);
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
