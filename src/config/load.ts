/**
 * Loads the configuration: schema defaults, then the YAML file, then `COUNTERSIGN_*` environment
 * variables. Every problem throws a ConfigError whose message names the key, the value given and
 * what is allowed. Nothing is guessed: unknown keys are errors, with a suggestion.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { parseDocument } from 'yaml';
import { ConfigError } from './errors.ts';
import {
  CONFIG_OPTIONS,
  ConfigSchema,
  ENV_PREFIX,
  describeAllowed,
  envSegment,
  type Config,
  type ConfigOption,
  type SchemaNode,
} from './schema.ts';

export { ConfigError } from './errors.ts';

export interface LoadConfigOptions {
  /** Config file. Default: env `COUNTERSIGN_CONFIG`, else `./countersign.yaml`. */
  readonly file?: string;
  /** Environment to read `COUNTERSIGN_*` overrides from. Default: process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Folder that relative file names resolve against. Default: process.cwd(). */
  readonly cwd?: string;
}

export const DEFAULT_CONFIG_FILE = 'countersign.yaml';

/** Environment variables with the prefix that are not config options. */
const RESERVED_ENV = new Set(['COUNTERSIGN_CONFIG', 'COUNTERSIGN_DEBUG']);

const ROOT = ConfigSchema as unknown as SchemaNode;

/**
 * Reads, validates and resolves the configuration.
 *
 * When no file is named (neither `file` nor `COUNTERSIGN_CONFIG`) and `./countersign.yaml` does not
 * exist, the defaults and environment alone are used (container deployments). A file that is named
 * explicitly must exist.
 */
export async function loadConfig(opts: LoadConfigOptions = {}): Promise<Config> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const named = opts.file ?? nonEmpty(env['COUNTERSIGN_CONFIG']);
  const file = path.resolve(cwd, named ?? DEFAULT_CONFIG_FILE);

  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && named === undefined) {
      text = undefined;
    } else if (code === 'ENOENT') {
      throw new ConfigError(`config file ${file} not found (create one with "countersign init")`);
    } else {
      throw new ConfigError(`config file ${file} cannot be read: ${(e as Error).message}`);
    }
  }

  const baseDir = text === undefined ? cwd : path.dirname(file);
  const fromFile = text === undefined ? {} : parseYaml(text, file);
  checkTree(ROOT, fromFile, []);

  const fromEnv = await readEnv(env, cwd);

  const merged = deepMerge(defaults(), deepMerge(deepMerge({}, fromFile), fromEnv));
  resolvePaths(merged, baseDir);
  const config = merged as unknown as Config;
  checkCrossField(config);
  return config;
}

/** Every option's default, as a tree (values copied, so callers may change them). */
export function defaults(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const option of CONFIG_OPTIONS) {
    const value = option.schema.default;
    setPath(out, option.segments, Array.isArray(value) ? [...(value as unknown[])] : value);
  }
  return out;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

function parseYaml(text: string, file: string): Record<string, unknown> {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const err = doc.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
    const what = err.message.split('\n')[0] ?? err.message;
    throw new ConfigError(`config file ${file}: malformed YAML${where}: ${what}`);
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) {
    throw new ConfigError(`config file ${file}: the top level must be a mapping of sections (server, database, keys, log, rateLimit, metrics, directories)`);
  }
  return value;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 80 ? s.slice(0, 77) + '...' : s;
}

function notAllowed(label: string, shown: string, node: SchemaNode, key: string): ConfigError {
  return new ConfigError(`${label}: ${shown} is not allowed: ${describeAllowed(node)}`, key);
}

/** Validates a (partial) tree from the file: unknown keys, wrong types, out-of-range values. */
function checkTree(node: SchemaNode, value: Record<string, unknown>, segments: string[]): void {
  const props = node.properties ?? {};
  for (const [key, child] of Object.entries(value)) {
    const childSegments = [...segments, key];
    const childPath = childSegments.join('.');
    const childNode = props[key];
    if (!childNode) {
      const hint = suggest(key, Object.keys(props), segments);
      throw new ConfigError(`unknown key ${childPath}${hint ? `; did you mean ${hint}?` : ''}`, childPath);
    }
    if (childNode.type === 'object') {
      if (child === null) {
        // A section whose options are all commented out.
        delete value[key];
        continue;
      }
      if (!isPlainObject(child)) {
        throw new ConfigError(`${childPath}: ${show(child)} is not allowed: a mapping of ${childPath} options`, childPath);
      }
      checkTree(childNode, child, childSegments);
    } else {
      // Secrets are never echoed in messages.
      checkLeaf(childNode, child, childPath, childPath, /password|token|secret/i.test(key) ? '(the value given)' : show(child));
    }
  }
}

function checkLeaf(node: SchemaNode, value: unknown, label: string, key: string, shown: string): void {
  if (node.anyOf) {
    if (!node.anyOf.some((n) => n.const === value)) throw notAllowed(label, shown, node, key);
    return;
  }
  switch (node.type) {
    case 'integer':
    case 'number': {
      const ok =
        typeof value === 'number' &&
        Number.isFinite(value) &&
        (node.type === 'number' || Number.isInteger(value)) &&
        (node.minimum === undefined || value >= node.minimum) &&
        (node.maximum === undefined || value <= node.maximum);
      if (!ok) throw notAllowed(label, shown, node, key);
      return;
    }
    case 'boolean':
      if (typeof value !== 'boolean') throw notAllowed(label, shown, node, key);
      return;
    case 'string':
      if (typeof value !== 'string' || value.length < (node.minLength ?? 0)) throw notAllowed(label, shown, node, key);
      if (key === 'database.url') checkDatabaseUrl(value, label, shown);
      if (node['x-network'] && !isNetwork(value)) throw notAllowed(label, shown, node, key);
      return;
    case 'object':
      checkMapping(node, value, label, key, shown);
      return;
    case 'array': {
      if (!Array.isArray(value)) throw notAllowed(label, shown, node, key);
      const items = node.items;
      if (items) value.forEach((item, i) => checkLeaf(items, item, `${label}[${i}]`, key, show(item)));
      return;
    }
    default:
      return;
  }
}

/**
 * A mapping inside a list (a directory source): unknown keys, missing required keys and each value
 * are checked, and defaults are filled in. Labels name the item, e.g. `directories[0].timeoutMs`.
 */
function checkMapping(node: SchemaNode, value: unknown, label: string, key: string, shown: string): void {
  if (!isPlainObject(value)) throw notAllowed(label, shown, node, key);
  const props = node.properties ?? {};
  for (const [k, v] of Object.entries(value)) {
    const child = props[k];
    const childLabel = `${label}.${k}`;
    if (!child) {
      const close = Object.keys(props).find((p) => levenshtein(p.toLowerCase(), k.toLowerCase()) <= Math.max(2, Math.floor(k.length / 3)));
      throw new ConfigError(`unknown key ${childLabel}${close ? `; did you mean ${label}.${close}?` : ''}`, childLabel);
    }
    // Secrets are never echoed in messages.
    checkLeaf(child, v, childLabel, childLabel, /password/i.test(k) ? '(the value given)' : show(v));
  }
  for (const [k, child] of Object.entries(props)) {
    if (value[k] === undefined && child.default !== undefined) value[k] = child.default;
  }
  for (const required of node.required ?? []) {
    if (value[required] === undefined) throw new ConfigError(`${label}.${required} is required: ${describeAllowed(props[required] ?? {})}`, `${label}.${required}`);
  }
}

function checkDatabaseUrl(url: string, label: string, shown: string): void {
  if (url.startsWith('sqlite:') && url.length > 'sqlite:'.length) return;
  if (/^postgres(ql)?:\/\/[^/]+/.test(url)) return;
  throw new ConfigError(`${label}: ${maskUrl(shown)} is not allowed: sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE`, 'database.url');
}

/** Hides a password in a URL shown in a message. */
export function maskUrl(s: string): string {
  return s.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

/** Closest sibling key, or the full path of an option with that name elsewhere. */
function suggest(key: string, siblings: string[], segments: string[]): string | undefined {
  const lower = key.toLowerCase();
  // An option with exactly this name in another section (`port` at the top: server.port) beats a
  // merely similar neighbour (`portal`).
  const elsewhere = CONFIG_OPTIONS.find((o) => o.segments.at(-1)?.toLowerCase() === lower);
  if (elsewhere) return elsewhere.path;
  let best: { name: string; d: number } | undefined;
  for (const s of siblings) {
    const d = levenshtein(lower, s.toLowerCase());
    if (!best || d < best.d) best = { name: s, d };
  }
  return best && best.d <= Math.max(2, Math.floor(key.length / 3)) ? [...segments, best.name].join('.') : undefined;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** Reads `COUNTERSIGN_<PATH>` and `COUNTERSIGN_<PATH>_FILE` into a partial config tree. */
async function readEnv(env: NodeJS.ProcessEnv, cwd: string): Promise<Record<string, unknown>> {
  const byName = new Map(CONFIG_OPTIONS.map((o) => [o.envName, o]));
  const sectionPrefixes = [...new Set(CONFIG_OPTIONS.map((o) => ENV_PREFIX + envSegment(o.segments[0]!) + '_'))];
  const out: Record<string, unknown> = {};

  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined || RESERVED_ENV.has(name)) continue;
    let option = byName.get(name);
    let fromFile = false;
    if (!option && name.endsWith('_FILE')) {
      option = byName.get(name.slice(0, -'_FILE'.length));
      fromFile = option !== undefined;
    }
    if (!option) {
      // Only names inside a known section are treated as typos; others may belong to other tools.
      if (sectionPrefixes.some((p) => name.startsWith(p))) {
        const bare = name.replace(/_FILE$/, '');
        const ranked = CONFIG_OPTIONS.map((o) => ({ n: o.envName, d: levenshtein(o.envName, bare) })).sort((a, b) => a.d - b.d);
        const close = ranked[0] && ranked[0].d <= 3 ? ranked[0].n : undefined;
        throw new ConfigError(`unknown environment variable ${name}${close ? `; did you mean ${close}?` : ''}`);
      }
      continue;
    }
    if (fromFile && env[option.envName] !== undefined) {
      throw new ConfigError(`${option.path}: both ${option.envName} and ${option.envName}_FILE are set; set only one`, option.path);
    }

    let text = raw;
    let label = `${option.path} (from ${name})`;
    if (fromFile) {
      const secretFile = path.resolve(cwd, raw);
      try {
        text = (await readFile(secretFile, 'utf8')).replace(/(\r?\n)+$/, '');
      } catch (e) {
        throw new ConfigError(`${option.path}: cannot read ${name}=${secretFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, option.path);
      }
      label = `${option.path} (from the file in ${name})`;
    }
    const value = fromEnvText(option, text, label, fromFile);
    setPath(out, option.segments, value);
  }
  return out;
}

function fromEnvText(option: ConfigOption, text: string, label: string, secret: boolean): unknown {
  const node = option.schema;
  const shown = secret ? '(the value in the file)' : show(text);
  let value: unknown = text;
  if (node.type === 'integer' || node.type === 'number') {
    value = /^[+-]?\d+(\.\d+)?$/.test(text.trim()) ? Number(text.trim()) : text;
  } else if (node.type === 'boolean') {
    const t = text.trim().toLowerCase();
    value = ['true', '1', 'yes', 'on'].includes(t) ? true : ['false', '0', 'no', 'off'].includes(t) ? false : text;
  } else if (node.type === 'array') {
    const t = text.trim();
    if (t.startsWith('[')) {
      try {
        value = JSON.parse(t) as unknown;
      } catch {
        throw new ConfigError(`${label}: ${shown} is not allowed: a JSON list or comma-separated values`, option.path);
      }
    } else {
      value = t === '' ? [] : t.split(',').map((s) => s.trim()).filter((s) => s !== '');
    }
  }
  checkLeaf(node, value, label, option.path, shown);
  return value;
}

function setPath(target: Record<string, unknown>, segments: readonly string[], value: unknown): void {
  let node = target;
  for (const seg of segments.slice(0, -1)) {
    const next = node[seg];
    if (!isPlainObject(next)) node[seg] = {};
    node = node[seg] as Record<string, unknown>;
  }
  node[segments[segments.length - 1]!] = value;
}

function getPath(target: Record<string, unknown>, segments: readonly string[]): unknown {
  let node: unknown = target;
  for (const seg of segments) {
    if (!isPlainObject(node)) return undefined;
    node = node[seg];
  }
  return node;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(over)) {
    const cur = base[k];
    if (isPlainObject(v)) {
      base[k] = deepMerge(isPlainObject(cur) ? cur : {}, v);
    } else {
      base[k] = Array.isArray(v) ? [...(v as unknown[])] : v;
    }
  }
  return base;
}

/** Relative paths (and `sqlite:` URLs) resolve against the config file's folder. */
function resolvePaths(config: Record<string, unknown>, baseDir: string): void {
  for (const option of CONFIG_OPTIONS) {
    const items = option.schema.items;
    if (option.schema.type === 'array' && items?.type === 'object') {
      const list = getPath(config, option.segments);
      if (!Array.isArray(list)) continue;
      for (const item of list as unknown[]) {
        if (!isPlainObject(item)) continue;
        for (const [k, child] of Object.entries(items.properties ?? {})) {
          if (child['x-path'] && typeof item[k] === 'string' && item[k] !== '') item[k] = path.resolve(baseDir, item[k]);
        }
      }
      continue;
    }
    if (!option.isPath) continue;
    const v = getPath(config, option.segments);
    if (typeof v !== 'string') continue;
    if (option.path === 'database.url') {
      if (v.startsWith('sqlite:')) {
        const p = v.slice('sqlite:'.length);
        if (p !== ':memory:' && !p.startsWith('file:')) setPath(config, option.segments, 'sqlite:' + path.resolve(baseDir, p));
      }
      continue;
    }
    setPath(config, option.segments, path.resolve(baseDir, v));
  }
}

/** An IP address or a CIDR range (IPv4 or IPv6). */
export function isNetwork(value: string): boolean {
  if (ipaddr.isValid(value)) return true;
  try {
    ipaddr.parseCIDR(value);
    return true;
  } catch {
    return false;
  }
}

/** True for `localhost`, 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const bare = host.replace(/^\[|\]$/g, '');
  if (!ipaddr.isValid(bare)) return false;
  return ipaddr.process(bare).range() === 'loopback';
}

const DIRECTORY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function checkDirectories(config: Config): void {
  const seen = new Set<string>();
  config.directories.forEach((d, i) => {
    const at = `directories[${i}]`;
    if (!DIRECTORY_NAME.test(d.name)) {
      throw new ConfigError(`${at}.name: ${show(d.name)} is not allowed: letters, digits, ".", "_" and "-" (at most 64, starting with a letter or digit)`, `${at}.name`);
    }
    if (seen.has(d.name)) throw new ConfigError(`${at}.name: ${show(d.name)} is not allowed: another directory source has that name`, `${at}.name`);
    seen.add(d.name);
    if (d.urls.length === 0) throw new ConfigError(`${at}.urls: [] is not allowed: at least one ldap:// or ldaps:// URL`, `${at}.urls`);
    d.urls.forEach((u, j) => {
      let ok = false;
      try {
        const parsed = new URL(u);
        ok = (parsed.protocol === 'ldap:' || parsed.protocol === 'ldaps:') && parsed.hostname !== '';
      } catch {
        ok = false;
      }
      if (!ok) throw new ConfigError(`${at}.urls[${j}]: ${show(u)} is not allowed: an ldap:// or ldaps:// URL with a host`, `${at}.urls`);
    });
    if ((d.bindPassword === undefined) === (d.bindPasswordFile === undefined)) {
      throw new ConfigError(`${at}.bindPassword: set exactly one of ${at}.bindPassword and ${at}.bindPasswordFile`, `${at}.bindPassword`);
    }
    if (d.phoneCountry !== undefined && !/^[A-Z]{2}$/.test(d.phoneCountry)) {
      throw new ConfigError(`${at}.phoneCountry: ${show(d.phoneCountry)} is not allowed: a two-letter country code such as US`, `${at}.phoneCountry`);
    }
  });
}

function checkSms(config: Config): void {
  if (config.sms.provider !== 'twilio') return;
  const { twilio } = config.sms;
  for (const key of ['accountSid', 'authToken', 'from'] as const) {
    if (twilio[key] === '') throw new ConfigError(`sms.twilio.${key} is required with sms.provider twilio`, `sms.twilio.${key}`);
  }
  let ok = false;
  try {
    const url = new URL(twilio.baseUrl);
    ok = url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    ok = false;
  }
  if (!ok) throw new ConfigError(`sms.twilio.baseUrl: ${show(twilio.baseUrl)} is not allowed: an https:// URL`, 'sms.twilio.baseUrl');
}

function checkVoice(config: Config): void {
  const { voice, sms } = config;
  if (voice.provider !== 'twilio') return;
  for (const key of ['accountSid', 'authToken'] as const) {
    if (sms.twilio[key] === '') throw new ConfigError(`sms.twilio.${key} is required with voice.provider twilio (calls use the Twilio account of sms.twilio)`, `sms.twilio.${key}`);
  }
  const from = voice.from || sms.twilio.from;
  if (!/^\+[1-9][0-9]{6,14}$/.test(from)) {
    throw new ConfigError(`voice.from: ${show(voice.from)} is not allowed: a Twilio phone number in E.164 such as +15005550006 (required when sms.twilio.from is not a number)`, 'voice.from');
  }
  let ok = false;
  try {
    const url = new URL(voice.callbackUrl);
    ok = url.protocol === 'https:' && url.search === '' && url.hash === '';
  } catch {
    ok = false;
  }
  if (!ok) throw new ConfigError(`voice.callbackUrl: ${show(voice.callbackUrl)} is not allowed: the public https:// base URL of this server that Twilio reaches, such as https://mfa.example.com`, 'voice.callbackUrl');
}

const PUSH_SERVICE_HOST = /^(\*\.)?(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/i;

function checkPush(config: Config): void {
  const { push } = config;
  push.services.forEach((host, i) => {
    if (!PUSH_SERVICE_HOST.test(host)) {
      throw new ConfigError(`push.services[${i}]: ${show(host)} is not allowed: a host name such as fcm.googleapis.com, or *.notify.windows.com for every host below it`, 'push.services');
    }
  });
  if (push.provider !== 'webpush') return;
  let ok = false;
  try {
    const url = new URL(push.subject);
    ok = (url.protocol === 'mailto:' && /^[^@\s]+@[^@\s]+$/.test(decodeURIComponent(url.pathname))) || (url.protocol === 'https:' && url.hostname !== '');
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new ConfigError(
      `push.subject: ${show(push.subject)} is not allowed: a contact for the push services, mailto:someone@example.com or an https:// URL (required with push.provider webpush)`,
      'push.subject',
    );
  }
  if (push.services.length === 0) throw new ConfigError('push.services: [] is not allowed: at least one push service host with push.provider webpush', 'push.services');
}

function checkCrossField(config: Config): void {
  checkDirectories(config);
  checkSms(config);
  checkVoice(config);
  checkPush(config);
  if (config.server.plainHttp && !config.server.allowInsecurePublicHttp && !isLoopbackHost(config.server.host)) {
    throw new ConfigError(
      `server.plainHttp: true is not allowed with server.host ${JSON.stringify(config.server.host)}: plain HTTP is allowed on a loopback host (127.0.0.1, ::1, localhost) only, unless server.allowInsecurePublicHttp is true`,
      'server.plainHttp',
    );
  }
}
