/**
 * Drives a RADIUS server as a real NAS would: FreeRADIUS's `radclient` (Debian freeradius-utils)
 * sends one request and its `-x` output is parsed back into the reply code and attributes.
 *
 * What radclient 3.2 does, and the tests may rely on:
 * - `-r N` is the total number of transmissions, not retransmissions; a retransmission (after `-t`
 *   seconds without a valid reply) repeats the same Id and Request Authenticator, so the server
 *   sees a true duplicate (RFC 5080). `sends` counts them.
 * - No reply, or only replies that fail verification (wrong secret, bad Response Authenticator or
 *   Message-Authenticator), is `No reply from server` and a non-zero exit: code 'timeout', or
 *   'invalid-reply' when radclient reported a reply it threw away.
 * - A Reject or Challenge also exits non-zero (radclient expected an Accept); only the code matters.
 * - Message-Authenticator is sent only when the input has `Message-Authenticator = 0x00`; this
 *   helper adds it unless `messageAuthenticator: false`.
 * - Attributes are printed in packet order; strings quoted with C-style escapes, octets as 0x hex
 *   (Class, State, MS-CHAP2-Success...), enumerated integers by name, addresses as text.
 * - String-typed attributes cannot be given as hex (`User-Password = 0x41` sends the text "0x41").
 * - User-Password and MS-CHAP-Password are unescaped twice by radclient (written twice here, so
 *   any password arrives intact). `MS-CHAP-Password` makes radclient compute an MS-CHAPv1
 *   challenge and response (not v2: see mschapv2.ts). A text `CHAP-Password` is hashed by
 *   radclient from its escaped form (a backslash or control character breaks it), and a 17-byte
 *   one is taken as already hashed only if a byte is below 32: chapRequest() computes CHAP here.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';

export const RADCLIENT = '/usr/bin/radclient';

export type RadiusPacketType = 'auth' | 'acct' | 'status' | 'coa' | 'disconnect';

/** A reply code as radclient names it, or what became of the request. */
export type RadiusReplyCode =
  | 'Access-Accept'
  | 'Access-Reject'
  | 'Access-Challenge'
  | 'Accounting-Response'
  | 'CoA-ACK'
  | 'CoA-NAK'
  | 'Disconnect-ACK'
  | 'Disconnect-NAK'
  | 'timeout'
  | 'invalid-reply'
  | (string & {});

/** One attribute: its dictionary name and its value as radclient prints or reads it. */
export type RadiusPair = readonly [name: string, value: string];

/**
 * A value to send. A string is sent quoted, and FreeRADIUS parses it for the attribute's type:
 * text for strings, `0x...` hex for octets, a number or a value name for integers, an address.
 * A Buffer is sent as 0x hex (octets attributes only); a number as its decimal text.
 */
export type RadiusValue = string | number | Uint8Array;

export interface RadclientOptions {
  /** Default 127.0.0.1; IPv6 literals without brackets (e.g. '::1'). */
  host?: string;
  port: number;
  secret: string;
  /** Default 'auth' (Access-Request). */
  type?: RadiusPacketType;
  attributes?: readonly (readonly [string, RadiusValue])[];
  /** Add `Message-Authenticator = 0x00` so radclient signs the request (default true). */
  messageAuthenticator?: boolean;
  /** Transmissions in total (-r), default 1. */
  retries?: number;
  /** Seconds to wait for a reply before retransmitting or giving up (-t, fractions allowed), default 2. */
  timeout?: number;
  /** The RADIUS Id to use (-i). */
  id?: number;
  /** Send the request this many times (-c), each with a fresh Id and Request Authenticator. */
  count?: number;
}

export interface RadclientResult {
  /** The (last) reply's code, 'timeout' or 'invalid-reply'. */
  code: RadiusReplyCode;
  /** The reply's Id (undefined without a reply). */
  id: number | undefined;
  /** The (last) reply's attributes in packet order, values decoded (see parseRadclientOutput). */
  attributes: RadiusPair[];
  /** Every reply received, in order (with `count`, one per request). */
  replies: RadclientReply[];
  /** What radclient says it sent the first time (including attributes it computed itself). */
  sent: RadiusPair[];
  /** How many packets radclient sent (retransmissions and `count` included). */
  sends: number;
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

export interface RadclientReply {
  code: string;
  id: number;
  from: string;
  length: number;
  attributes: RadiusPair[];
}

/** True when radclient can run here; under CI a missing binary fails the caller's suite instead. */
export function radclientAvailable(): boolean {
  const ok = existsSync(RADCLIENT);
  if (!ok && process.env.CI) throw new Error(`radclient is required under CI: ${RADCLIENT} not found (apt-get install freeradius-utils)`);
  if (!ok) console.warn(`\n*** SKIPPING RADIUS tests: ${RADCLIENT} not found (apt-get install freeradius-utils) ***\n`);
  return ok;
}

/**
 * Escapes text the way FreeRADIUS reads a quoted string (radclient's input, a users file): the
 * backslash, the quote, tab, CR and LF with a backslash, other control characters in octal; UTF-8
 * as is. The surrounding quotes are not included.
 */
export function escapeRadiusText(value: string, quote: '"' | "'" = '"'): string {
  let out = '';
  for (const ch of value) {
    if (ch === '\\' || ch === quote) out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch.charCodeAt(0) < 0x20 || ch === '\x7f') out += `\\${ch.charCodeAt(0).toString(8).padStart(3, '0')}`;
    else out += ch;
  }
  return out;
}

/** A quoted string for radclient's input or a FreeRADIUS users file. */
export function quoteRadiusString(value: string, quote: '"' | "'" = '"'): string {
  return quote + escapeRadiusText(value, quote) + quote;
}

/**
 * radclient 3.2 reads User-Password and MS-CHAP-Password, then parses the text it read a second
 * time (copying it to Cleartext-Password, which is what it sends): escapes are undone twice, so
 * they are written twice.
 */
const UNESCAPED_TWICE = new Set(['user-password', 'ms-chap-password']);

function encodeValue(name: string, value: RadiusValue): string {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') return `0x${Buffer.from(value).toString('hex')}`;
  const lower = name.toLowerCase();
  if (UNESCAPED_TWICE.has(lower)) return quoteRadiusString(escapeRadiusText(value));
  // radclient hashes a text CHAP-Password from its printed (escaped) form: only plain text survives.
  if (lower === 'chap-password' && /[\\\x00-\x1f\x7f]/.test(value)) {
    throw new Error('radclient mangles a CHAP-Password with a backslash or control character: use chapRequest()');
  }
  return quoteRadiusString(value);
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/** radclient's input: one `Name = value` line per attribute. */
export function radclientInput(attributes: readonly (readonly [string, RadiusValue])[], messageAuthenticator = true): string {
  const lines = attributes.map(([name, value]) => {
    if (!NAME.test(name)) throw new Error(`radclient: invalid attribute name ${JSON.stringify(name)}`);
    return `${name} = ${encodeValue(name, value)}`;
  });
  if (messageAuthenticator && !attributes.some(([n]) => n.toLowerCase() === 'message-authenticator')) lines.push('Message-Authenticator = 0x00');
  return lines.join('\n') + '\n';
}

/**
 * CHAP (RFC 1994) computed here: CHAP-Challenge and CHAP-Password (ident + MD5(ident, password,
 * challenge)) as octets. radclient sends a 17-byte CHAP-Password untouched only when one of its
 * bytes is below 32 (otherwise it takes it for a 17-character password and hashes it again), so
 * the ident defaults to a value below 32; with a given ident, the challenge is drawn until that holds.
 */
export function chapRequest(password: string, opts: { ident?: number; challenge?: Uint8Array } = {}): [string, Buffer][] {
  const ident = opts.ident ?? randomBytes(1)[0]! % 32;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const challenge = Buffer.from(opts.challenge ?? randomBytes(16));
    const hash = createHash('md5')
      .update(Buffer.from([ident]))
      .update(password, 'utf8')
      .update(challenge)
      .digest();
    const value = Buffer.concat([Buffer.from([ident]), hash]);
    if (value.some((b) => b < 32)) {
      return [
        ['CHAP-Challenge', challenge],
        ['CHAP-Password', value],
      ];
    }
    if (opts.challenge) break;
  }
  throw new Error('chapRequest: radclient would hash this CHAP-Password again (no byte below 32); use another ident or challenge');
}

/** Undoes radclient's string escapes (\\ \" \' \n \r \t and \ooo octal bytes), reading UTF-8. */
export function unquoteRadiusString(quoted: string): string {
  const q = quoted[0];
  const body = (q === '"' || q === "'") && quoted.endsWith(q) && quoted.length >= 2 ? quoted.slice(1, -1) : quoted;
  const bytes: number[] = [];
  const raw = Buffer.from(body, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b !== 0x5c || i + 1 >= raw.length) {
      bytes.push(b);
      continue;
    }
    const next = String.fromCharCode(raw[i + 1]!);
    const octal = /^[0-7]{3}$/.exec(raw.subarray(i + 1, i + 4).toString('latin1'));
    if (octal) {
      bytes.push(parseInt(octal[0], 8) & 0xff);
      i += 3;
    } else {
      bytes.push(({ n: 0x0a, r: 0x0d, t: 0x09 } as Record<string, number>)[next] ?? raw[i + 1]!);
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** An attribute value as data: quoted strings unescaped; everything else exactly as printed. */
function decodeValue(printed: string): string {
  return printed.startsWith('"') || printed.startsWith("'") ? unquoteRadiusString(printed) : printed;
}

const SENT = /^Sent (\S+) Id (\d+) from (\S+) to (\S+) length (\d+)/;
const RECEIVED = /^Received (\S+) Id (\d+) from (\S+) to (\S+) length (\d+)/;
// `s`: a value may hold U+2028 or U+2029, which `.` would not match (lines are split on \n only).
const ATTRIBUTE = /^\t(\S+) (?:=|:=|\+=|==|!=) ?(.*)$/s;

/** Parses `radclient -x` output: the packets sent and the replies received with their attributes. */
export function parseRadclientOutput(stdout: string): { sent: RadiusPair[][]; replies: RadclientReply[]; noReply: boolean } {
  const sent: RadiusPair[][] = [];
  const replies: RadclientReply[] = [];
  let current: RadiusPair[] | undefined;
  let noReply = false;
  for (const line of stdout.split('\n')) {
    const s = SENT.exec(line);
    const r = RECEIVED.exec(line);
    const a = ATTRIBUTE.exec(line);
    if (s) {
      current = [];
      sent.push(current);
    } else if (r) {
      current = [];
      replies.push({ code: r[1]!, id: Number(r[2]), from: r[3]!, length: Number(r[5]), attributes: current });
    } else if (a && current) {
      current.push([a[1]!, decodeValue(a[2]!)]);
    } else {
      current = undefined;
      if (/No reply from server/.test(line)) noReply = true;
    }
  }
  return { sent, replies, noReply };
}

/** Sends one request with radclient and reports the reply. Throws only when radclient could not send at all. */
export async function radclient(opts: RadclientOptions): Promise<RadclientResult> {
  const host = opts.host ?? '127.0.0.1';
  const ipv6 = host.includes(':');
  const retries = opts.retries ?? 1;
  const timeout = opts.timeout ?? 2;
  const count = opts.count ?? 1;
  const args = ['-x', '-t', String(timeout), '-r', String(retries), ipv6 ? '-6' : '-4'];
  if (opts.id !== undefined) args.push('-i', String(opts.id));
  if (count !== 1) args.push('-c', String(count));
  // `--`: a secret may begin with '-'.
  args.push('--', ipv6 ? `[${host}]:${opts.port}` : `${host}:${opts.port}`, opts.type ?? 'auth', opts.secret);
  const input = radclientInput(opts.attributes ?? [], opts.messageAuthenticator ?? true);

  const child = spawn(RADCLIENT, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  child.stdin.end(input);
  // radclient gives up on its own after timeout x retries per request; a hung process is a bug.
  const guard = setTimeout(() => child.kill('SIGKILL'), (timeout * retries * count + 10) * 1000);
  const exitCode = await exited.finally(() => clearTimeout(guard));

  const parsed = parseRadclientOutput(stdout);
  if (parsed.sent.length === 0) throw new Error(`radclient sent nothing (exit ${String(exitCode)}): ${stderr.trim() || stdout.trim()}\ninput:\n${input}`);
  const last = parsed.replies.at(-1);
  const code: RadiusReplyCode = last?.code ?? (/verification failed|bad packet|malformed|invalid/i.test(stderr) ? 'invalid-reply' : 'timeout');
  return {
    code,
    id: last?.id,
    attributes: last?.attributes ?? [],
    replies: parsed.replies,
    sent: parsed.sent[0] ?? [],
    sends: parsed.sent.length,
    exitCode,
    stdout,
    stderr,
  };
}

/** The first value of an attribute in a reply, or undefined. */
export function attribute(result: { attributes: readonly RadiusPair[] }, name: string): string | undefined {
  return result.attributes.find(([n]) => n === name)?.[1];
}

/** Every value of an attribute in a reply, in order. */
export function attributes(result: { attributes: readonly RadiusPair[] }, name: string): string[] {
  return result.attributes.filter(([n]) => n === name).map(([, v]) => v);
}

/** An octets value as radclient prints it (0x hex) read as UTF-8 text (e.g. Class, State). */
export function octetsText(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^0x([0-9a-f]{2})*$/i.test(value)) throw new Error(`not an octets value: ${value}`);
  return Buffer.from(value.slice(2), 'hex').toString('utf8');
}

/** A PAP Access-Request with User-Name and User-Password (and Message-Authenticator). */
export function radtest(
  opts: Omit<RadclientOptions, 'attributes' | 'type'> & { user: string; password: string; extra?: readonly (readonly [string, RadiusValue])[] },
): Promise<RadclientResult> {
  const { user, password, extra, ...rest } = opts;
  return radclient({ ...rest, type: 'auth', attributes: [['User-Name', user], ['User-Password', password], ...(extra ?? [])] });
}
