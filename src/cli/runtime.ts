/**
 * What every CLI command shares: global options, the actor, opening the core on the configured
 * database, output (human or `--json`), argument parsers and the error printer.
 */
import { access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, type CommandUnknownOpts } from '@commander-js/extra-typings';
import { ConfigError } from '../config/errors.ts';
import type { Config } from '../config/schema.ts';
import type { Actor } from '../core/api.ts';
import { CoreError } from '../core/errors.ts';
import type { Context } from '../server.ts';

export interface GlobalOptions {
  readonly config: string | undefined;
  readonly json: boolean;
}

export function globals(cmd: CommandUnknownOpts): GlobalOptions {
  const all = cmd.optsWithGlobals() as { config?: string; json?: boolean };
  return { config: all.config, json: all.json === true };
}

/** The CLI acts as an administrator named after the operating-system user. */
export function cliActor(): Actor {
  let name = 'unknown';
  try {
    name = os.userInfo().username;
  } catch {
    // No passwd entry (some containers): keep 'unknown'.
  }
  return { kind: 'cli', name, role: 'admin' };
}

/** A mistake in how the command was called: exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A failure already explained on stdout (e.g. a denied verification): exit status 1, no extra message. */
export class QuietFailure extends Error {
  constructor() {
    super('');
    this.name = 'QuietFailure';
  }
}

export async function loadCliConfig(cmd: CommandUnknownOpts): Promise<Config> {
  const { config } = globals(cmd);
  const named = config ?? process.env['COUNTERSIGN_CONFIG'];
  if (named === undefined || named === '') {
    const file = path.resolve('countersign.yaml');
    const exists = await access(file).then(
      () => true,
      () => false,
    );
    const envConfigured = Object.keys(process.env).some((k) => k.startsWith('COUNTERSIGN_DATABASE_') || k.startsWith('COUNTERSIGN_KEYS_'));
    if (!exists && !envConfigured) {
      throw new ConfigError(`no configuration: ${file} not found; run "countersign init" here, or pass --config FILE`);
    }
  }
  const { loadConfig } = await import('../config/load.ts');
  return loadConfig(config === undefined ? {} : { file: config });
}

/** Opens the core on the configured database, runs `fn`, and always closes. */
export async function withContext<T>(cmd: CommandUnknownOpts, fn: (ctx: Context, config: Config) => Promise<T>): Promise<T> {
  const config = await loadCliConfig(cmd);
  const { openContext } = await import('../server.ts');
  const ctx = await openContext(config);
  try {
    return await fn(ctx, config);
  } finally {
    await ctx.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Output

export function write(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

export function note(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : text + '\n');
}

export function printJson(value: unknown): void {
  write(JSON.stringify(value, null, 2));
}

/** Prints `value` as JSON with --json, else the human rendering. */
export function emit(cmd: CommandUnknownOpts, value: unknown, human: () => string | readonly string[]): void {
  if (globals(cmd).json) {
    printJson(value);
    return;
  }
  const text = human();
  write(typeof text === 'string' ? text : text.join('\n'));
}

export function time(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '-' : new Date(ms).toISOString();
}

export function text(v: unknown): string {
  if (v === null || v === undefined || v === '') return '-';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** `key: value` lines, keys aligned. */
export function record(rows: readonly (readonly [string, unknown])[]): string {
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${(k + ':').padEnd(width)} ${text(v)}`).join('\n');
}

/** A plain-text table with a header row. */
export function table<T>(items: readonly T[], columns: readonly (readonly [string, (item: T) => unknown])[]): string {
  const cells = items.map((item) => columns.map(([, get]) => oneLine(text(get(item)))));
  const widths = columns.map(([h], i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: readonly string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(columns.map(([h]) => h)), ...cells.map(line)].join('\n');
}

function oneLine(s: string): string {
  return s.replace(/[\r\n\t]+/g, ' ');
}

// ---------------------------------------------------------------------------------------------
// Argument parsers (commander reports their errors as usage errors, exit status 2)

export function intArg(min: number, max: number) {
  return (value: string): number => {
    if (!/^[+-]?\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected an integer ${min}..${max}`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected an integer ${min}..${max}`);
    return n;
  };
}

/** Repeatable option: collects every occurrence (and comma-separated values) into one list. */
export function collect(value: string, previous: string[] | undefined): string[] {
  const parts = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return [...(previous ?? []), ...parts];
}

/** ISO 8601 date/time, or epoch milliseconds. */
export function timeArg(value: string): number {
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new InvalidArgumentError('expected an ISO 8601 date/time (2026-01-31 or 2026-01-31T12:00:00Z) or epoch milliseconds');
  return ms;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** One readable line (plus field details) on stderr; returns the exit status. */
export function reportError(e: unknown): number {
  const debug = process.env['COUNTERSIGN_DEBUG'] === '1';
  if (e instanceof QuietFailure) return 1;
  if (e instanceof UsageError) {
    note(`error: ${e.message}`);
    note('(add --help for usage)');
    return 2;
  }
  if (e instanceof CoreError) {
    note(`error: ${e.code}: ${e.message}`);
    for (const [field, message] of Object.entries(e.details ?? {})) {
      if (!e.message.includes(message)) note(`  ${field}: ${message}`);
    }
  } else if (e instanceof ConfigError) {
    note(`error: config: ${e.message}`);
  } else if (e instanceof Error) {
    note(`error: ${e.message || e.name}`);
  } else {
    note(`error: ${String(e)}`);
  }
  if (debug && e instanceof Error && e.stack) note(e.stack);
  return 1;
}
