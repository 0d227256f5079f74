/**
 * Trusted and denied networks: single addresses, ranges (a-b) and CIDR blocks, IPv4 and IPv6.
 * IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) match IPv4 entries.
 */
import ipaddr from 'ipaddr.js';
import { CoreError } from '../errors.ts';

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

interface Interval {
  readonly kind: 'ipv4' | 'ipv6';
  readonly low: bigint;
  readonly high: bigint;
}

function normalize(addr: Addr): Addr {
  return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr;
}

function toBigInt(addr: Addr): bigint {
  let n = 0n;
  for (const b of addr.toByteArray()) n = (n << 8n) | BigInt(b);
  return n;
}

function parseAddress(text: string): Addr | null {
  const t = text.trim();
  if (!ipaddr.isValid(t)) return null;
  // ipaddr.isValid accepts legacy IPv4 forms such as "10.1" and octal; only accept the four-part dotted form.
  if (ipaddr.IPv4.isValid(t) && !ipaddr.IPv4.isValidFourPartDecimal(t)) return null;
  return normalize(ipaddr.parse(t));
}

/** Parses one network entry. Throws CoreError('validation_failed') naming the entry. */
export function parseNetwork(entry: string): Interval {
  const text = entry.trim();
  const fail = (): never => {
    throw new CoreError('validation_failed', `"${entry}" is not an IP address, range (a-b) or CIDR block`, { trustedIps: `invalid entry "${entry}"` });
  };
  if (text.includes('/')) {
    const [base, bitsText] = text.split('/');
    const addr = parseAddress(base ?? '');
    if (!addr || !/^\d{1,3}$/.test(bitsText ?? '')) return fail();
    const size = addr.kind() === 'ipv4' ? 32 : 128;
    const bits = Number(bitsText);
    if (bits > size) return fail();
    const value = toBigInt(addr);
    const hostBits = BigInt(size - bits);
    const low = (value >> hostBits) << hostBits;
    return { kind: addr.kind(), low, high: low + (1n << hostBits) - 1n };
  }
  if (text.includes('-')) {
    const [a, b] = text.split('-');
    const low = parseAddress(a ?? '');
    const high = parseAddress(b ?? '');
    if (!low || !high || low.kind() !== high.kind()) return fail();
    const lo = toBigInt(low);
    const hi = toBigInt(high);
    if (lo > hi) return fail();
    return { kind: low.kind(), low: lo, high: hi };
  }
  const addr = parseAddress(text);
  if (!addr) return fail();
  const v = toBigInt(addr);
  return { kind: addr.kind(), low: v, high: v };
}

/** Validates a list of entries, returning them trimmed. */
export function validateNetworks(entries: readonly string[]): string[] {
  return entries.map((e) => {
    parseNetwork(e);
    return e.trim();
  });
}

export class NetworkList {
  readonly #intervals: readonly Interval[];
  constructor(entries: readonly string[]) {
    this.#intervals = entries.map(parseNetwork);
  }
  get empty(): boolean {
    return this.#intervals.length === 0;
  }
  /** False for anything that is not a valid address. */
  contains(address: string | null | undefined): boolean {
    if (!address || this.#intervals.length === 0) return false;
    const addr = parseAddress(address);
    if (!addr) return false;
    const kind = addr.kind();
    const v = toBigInt(addr);
    return this.#intervals.some((i) => i.kind === kind && i.low <= v && v <= i.high);
  }
}

/** Whether a string is a valid IPv4 or IPv6 address. */
export function isIpAddress(text: string): boolean {
  return parseAddress(text) !== null;
}
