/**
 * Property and fuzz tests of the RADIUS codec.
 *
 * - Random valid packets round-trip through encodePacket / decodePacket and their signatures verify.
 * - Mutated packets (bit flips, byte edits, truncation, length-field edits, attribute-length edits,
 *   inserted and deleted octets, concatenations) never make decodePacket throw anything but
 *   RadiusDecodeError, and every packet it accepts serializes back to the same octets.
 *
 * FUZZ_RUNS sets how many mutated packets to try (default 200,000); FUZZ_SEED replays a run.
 */
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import radius from 'radius';
import { describe, expect, it } from 'vitest';
import {
  RadiusDecodeError,
  RadiusPacket,
  attribute,
  decodePacket,
  encodePacket,
  encryptUserPassword,
  serializePacket,
  vendorAttribute,
  verifyAccountingRequest,
  verifyRequest,
  verifyResponse,
  type RadiusAttribute,
  type RadiusDecodeReason,
} from '../../src/doors/radius/codec.ts';
import {
  ATTRIBUTES,
  PACKET_CODES,
  VENDOR_ATTRIBUTES,
  type AttributeName,
  type DataType,
  type PacketCode,
  type VendorAttributeName,
} from '../../src/doors/radius/dictionary.ts';

const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 200_000);
const FUZZ_SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const MUTATIONS_PER_BASE = 50;
const SECRET = 'fuzzing secret';

const CODES = Object.keys(PACKET_CODES) as PacketCode[];
const RESPONSE_CODES = new Set<PacketCode>(['Access-Accept', 'Access-Reject', 'Access-Challenge', 'Accounting-Response']);
const NAMES = (Object.keys(ATTRIBUTES) as AttributeName[]).filter((n) => n !== 'Message-Authenticator');
const VENDOR_NAMES = Object.keys(VENDOR_ATTRIBUTES) as VendorAttributeName[];

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** xorshift32: a fast deterministic stream for bulk mutations, seeded by fast-check. */
class Stream {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let s = this.#s;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.#s = s >>> 0;
    return this.#s;
  }
  int(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

const uint32 = fc.tuple(fc.nat(0xffff), fc.nat(0xffff)).map(([hi, lo]) => hi * 0x10000 + lo);
const authenticator = fc.uint8Array({ minLength: 16, maxLength: 16 });
const text = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => Buffer.byteLength(s) <= 253);

function valueOf(dataType: DataType): fc.Arbitrary<unknown> {
  switch (dataType) {
    case 'string':
      return text;
    case 'octets':
      return fc.uint8Array({ maxLength: 64 });
    case 'integer':
      return uint32;
    case 'date':
      return uint32.map((s) => new Date(s * 1000));
    case 'ipaddr':
      return fc.ipV4();
    case 'ipv6addr':
      return fc.ipV6();
    case 'vsa':
      return fc.record({ vendorId: fc.nat(0xffffff), data: fc.uint8Array({ minLength: 1, maxLength: 64 }) });
  }
}

/** The value a typed accessor gives back for a value written (addresses in canonical form). */
function canonical(dataType: DataType, value: unknown): unknown {
  if (dataType === 'ipv6addr') return ipaddr.IPv6.parse(value as string).toString();
  return value;
}

interface TypedEntry {
  name: AttributeName;
  value: unknown;
}
const typedEntry: fc.Arbitrary<TypedEntry> = fc.constantFrom(...NAMES).chain((name) => valueOf(ATTRIBUTES[name].dataType).map((value) => ({ name, value })));

interface VendorEntry {
  name: VendorAttributeName;
  value: unknown;
}
const vendorEntry: fc.Arbitrary<VendorEntry> = fc
  .constantFrom(...VENDOR_NAMES)
  .chain((name) => valueOf(VENDOR_ATTRIBUTES[name].dataType).map((value) => ({ name, value })));

const rawAttribute = (maxValue: number): fc.Arbitrary<RadiusAttribute> =>
  fc.record({ type: fc.nat(255).filter((t) => t !== 80), value: fc.uint8Array({ maxLength: maxValue }) });

/** Raw packets that fit 4096 octets: a few large attributes, many small ones, or close to either limit. */
const rawPacketFields = fc.record({
  code: fc.constantFrom(...CODES),
  identifier: fc.nat(255),
  authenticator,
  attributes: fc.oneof(
    fc.array(rawAttribute(200), { maxLength: 19 }),
    fc.array(rawAttribute(8), { maxLength: 250 }),
    // Near the limits, filled from a seed: fast-check builds thousands of octets slowly.
    fc.tuple(fc.integer({ min: 250, max: 254 }), fc.nat()).map(([count, seed]) => {
      const s = new Stream(seed);
      return Array.from({ length: count }, () => ({ type: s.pick([1, 25, 33, 200]), value: new Uint8Array(0) }));
    }),
    fc.tuple(fc.integer({ min: 14, max: 15 }), fc.nat()).map(([count, seed]) => {
      const s = new Stream(seed);
      return Array.from({ length: count }, () => ({ type: s.int(80), value: Uint8Array.from({ length: 240 + s.int(14) }, () => s.int(256)) }));
    }),
  ),
});

/** Seed packets to mutate: signed packets of every code, with and without Message-Authenticator. */
const seedPacket: fc.Arbitrary<Uint8Array> = fc.oneof(
  rawPacketFields.map((fields) => serializePacket(fields)),
  fc
    .record({
      fields: rawPacketFields,
      messageAuthenticator: fc.boolean(),
      requestAuthenticator: authenticator,
    })
    .map(({ fields, messageAuthenticator, requestAuthenticator }) => encodePacket(fields, SECRET, requestAuthenticator, { messageAuthenticator })),
);

// ---------------------------------------------------------------------------------------------
// Round trips

describe('random valid packets round-trip', () => {
  it('decode(encode(p)) gives back the code, identifier, attributes and typed values, and the signatures verify', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CODES),
        fc.nat(255),
        fc.array(typedEntry, { maxLength: 12 }),
        fc.array(vendorEntry, { maxLength: 3 }),
        authenticator,
        fc.oneof(fc.string({ minLength: 1, maxLength: 40, unit: 'binary-ascii' }), fc.uint8Array({ minLength: 1, maxLength: 128 })),
        fc.boolean(),
        (code, identifier, typed, vendor, requestAuthenticator, secret, messageAuthenticator) => {
          const attributes = [...typed.map((e) => attribute(e.name, e.value as never)), ...vendor.map((e) => vendorAttribute(e.name, e.value as never))];
          const raw = encodePacket({ code, identifier, attributes }, secret, requestAuthenticator, { messageAuthenticator });
          const p = decodePacket(raw);
          expect(p.code).toBe(code);
          expect(p.identifier).toBe(identifier);
          const rest = messageAuthenticator ? p.attributes.slice(1) : p.attributes;
          if (messageAuthenticator) expect(p.attributes[0]?.type).toBe(80);
          expect(rest).toEqual(attributes);
          for (const name of new Set(typed.map((e) => e.name))) {
            const dataType = ATTRIBUTES[name].dataType;
            const expected = typed.filter((e) => e.name === name).map((e) => canonical(dataType, e.value));
            // Vendor attributes, written after the typed ones, are Vendor-Specific attributes too.
            expect(p.getAll(name).slice(0, expected.length)).toEqual(expected);
          }
          for (const name of new Set(vendor.map((e) => e.name))) {
            const dataType = VENDOR_ATTRIBUTES[name].dataType;
            expect(p.getVendorAll(name)).toEqual(vendor.filter((e) => e.name === name).map((e) => canonical(dataType, e.value)));
          }
          if (RESPONSE_CODES.has(code)) {
            expect(verifyResponse(raw, requestAuthenticator, secret, { requireMessageAuthenticator: messageAuthenticator })).toBe('valid');
          } else {
            expect(verifyRequest(p, raw, secret)).toBe(messageAuthenticator || code === 'Accounting-Request' ? 'valid' : 'missing');
          }
          if (code === 'Accounting-Request') expect(verifyAccountingRequest(raw, secret)).toBe('valid');
        },
      ),
      { numRuns: 2_000, seed: FUZZ_SEED },
    );
  });

  it('decode(serialize(p)) equals p for raw packets', () => {
    fc.assert(
      fc.property(rawPacketFields, (fields) => {
        const p = new RadiusPacket(fields);
        expect(decodePacket(serializePacket(p))).toEqual(p);
      }),
      { numRuns: 2_000, seed: FUZZ_SEED },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Mutations

const INTERESTING_OCTETS = [0, 1, 2, 3, 4, 5, 11, 12, 13, 17, 18, 19, 20, 26, 33, 79, 80, 0x7f, 0x80, 0xfe, 0xff];

function setLength(buf: Uint8Array, n: number): void {
  if (buf.length >= 4) {
    buf[2] = (n >>> 8) & 0xff;
    buf[3] = n & 0xff;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Offsets of the length octets of the attributes, following the (possibly broken) chain. */
function attributeOffsets(buf: Uint8Array): number[] {
  const out: number[] = [];
  let at = 20;
  while (at + 1 < buf.length && out.length < 300) {
    out.push(at);
    const length = buf[at + 1]!;
    if (length < 2) break;
    at += length;
  }
  return out;
}

type Op =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; octet: number }
  | { kind: 'truncate'; to: number }
  | { kind: 'append'; octets: Uint8Array }
  | { kind: 'length'; value: number }
  | { kind: 'attributeLength'; index: number; value: number }
  | { kind: 'concat'; fixLength: boolean }
  | { kind: 'insert'; at: number; octets: Uint8Array; fixLength: boolean }
  | { kind: 'delete'; at: number; count: number; fixLength: boolean }
  | { kind: 'code'; value: number };

/** Applies one mutation; positions are taken modulo the current size. */
function apply(buf: Uint8Array, op: Op, partner: Uint8Array): Uint8Array {
  const n = buf.length;
  switch (op.kind) {
    case 'flip': {
      if (n === 0) return buf;
      const out = Uint8Array.from(buf);
      out[op.at % n] = out[op.at % n]! ^ (1 << op.bit);
      return out;
    }
    case 'set': {
      if (n === 0) return buf;
      const out = Uint8Array.from(buf);
      out[op.at % n] = op.octet;
      return out;
    }
    case 'truncate':
      return buf.slice(0, op.to % (n + 1));
    case 'append':
      return concat(buf, op.octets);
    case 'length': {
      const out = Uint8Array.from(buf);
      const choices = [0, 19, 20, n - 1, n, n + 1, 4095, 4096, 4097, 0xffff, op.value];
      setLength(out, choices[op.value % choices.length]! & 0xffff);
      return out;
    }
    case 'attributeLength': {
      const offsets = attributeOffsets(buf);
      if (offsets.length === 0) return buf;
      const at = offsets[op.index % offsets.length]!;
      const out = Uint8Array.from(buf);
      const current = out[at + 1]!;
      const choices = [0, 1, 2, 3, 17, 18, 19, current - 1, current + 1, 255, op.value];
      out[at + 1] = choices[op.value % choices.length]! & 0xff;
      return out;
    }
    case 'concat': {
      const out = concat(buf, partner);
      if (op.fixLength) setLength(out, out.length);
      return out;
    }
    case 'insert': {
      const at = n === 0 ? 0 : op.at % (n + 1);
      const out = concat(concat(buf.subarray(0, at), op.octets), buf.subarray(at));
      if (op.fixLength) setLength(out, out.length);
      return out;
    }
    case 'delete': {
      if (n === 0) return buf;
      const at = op.at % n;
      const out = concat(buf.subarray(0, at), buf.subarray(Math.min(n, at + op.count)));
      if (op.fixLength) setLength(out, out.length);
      return out;
    }
    case 'code': {
      if (n === 0) return buf;
      const out = Uint8Array.from(buf);
      out[0] = op.value;
      return out;
    }
  }
}

/** An attribute's octets to insert: often a (second) Message-Authenticator, sometimes a broken one. */
function insertion(s: Stream): Uint8Array {
  switch (s.int(4)) {
    case 0:
      return Uint8Array.of(80, 18, ...new Uint8Array(16));
    case 1:
      return Uint8Array.of(80, s.pick([0, 1, 2, 16, 17, 19, 255]));
    case 2: {
      const length = s.int(256);
      return Uint8Array.from({ length: Math.max(2, length) }, (_, i) => (i === 0 ? s.int(256) : i === 1 ? length : s.next() & 0xff));
    }
    default:
      return Uint8Array.from({ length: 1 + s.int(8) }, () => s.pick(INTERESTING_OCTETS));
  }
}

function randomOp(s: Stream): Op {
  switch (s.int(10)) {
    case 0:
      return { kind: 'flip', at: s.next(), bit: s.int(8) };
    case 1:
      return { kind: 'set', at: s.next(), octet: s.int(2) === 0 ? s.pick(INTERESTING_OCTETS) : s.int(256) };
    case 2:
      return { kind: 'truncate', to: s.next() };
    case 3:
      return { kind: 'append', octets: Uint8Array.from({ length: s.int(40) }, () => s.int(256)) };
    case 4:
      return { kind: 'length', value: s.int(0x10000) };
    case 5:
      return { kind: 'attributeLength', index: s.next(), value: s.int(256) };
    case 6:
      return { kind: 'concat', fixLength: s.int(2) === 0 };
    case 7:
      return { kind: 'insert', at: s.next(), octets: insertion(s), fixLength: s.int(3) !== 0 };
    case 8:
      return { kind: 'delete', at: s.next(), count: 1 + s.int(20), fixLength: s.int(3) !== 0 };
    default:
      return { kind: 'code', value: s.int(3) === 0 ? s.int(256) : s.pick(Object.values(PACKET_CODES)) };
  }
}

interface Stats {
  tried: number;
  accepted: number;
  refused: Partial<Record<RadiusDecodeReason, number>>;
}

const ZERO16 = new Uint8Array(16);

/**
 * The oracle: decodePacket throws only RadiusDecodeError; an accepted packet serializes back to the
 * octets up to its Length field, and its accessors and verifiers do not throw.
 */
function check(buf: Uint8Array, stats: Stats): void {
  stats.tried++;
  let p: RadiusPacket;
  try {
    p = decodePacket(buf);
  } catch (e) {
    if (!(e instanceof RadiusDecodeError)) throw e;
    stats.refused[e.reason] = (stats.refused[e.reason] ?? 0) + 1;
    return;
  }
  stats.accepted++;
  const length = (buf[2]! << 8) | buf[3]!;
  const again = serializePacket(p);
  if (Buffer.compare(again, buf.subarray(0, length)) !== 0) {
    throw new Error(`not round-trip stable: ${Buffer.from(buf).toString('hex')}`);
  }
  // Accessors and verifiers on accepted packets: sampled, they cost more than decoding.
  if ((stats.accepted & 7) === 0) {
    for (const name of NAMES) p.getAll(name);
    for (const name of VENDOR_NAMES) p.getVendorAll(name);
    if (RESPONSE_CODES.has(p.code)) verifyResponse(buf, ZERO16, SECRET);
    else verifyRequest(p, buf, SECRET);
    verifyAccountingRequest(buf, SECRET);
  }
}

function referencePackets(): Uint8Array[] {
  const ra = new Uint8Array(16).fill(0x42);
  return [
    radius.encode({
      code: 'Access-Request',
      secret: SECRET,
      identifier: 1,
      attributes: [
        ['User-Name', 'nemo'],
        ['User-Password', 'arctangent'],
        ['NAS-IP-Address', '192.168.1.16'],
        ['NAS-Port', 3],
        ['Proxy-State', Buffer.from('ps')],
      ],
      add_message_authenticator: true,
    }),
    radius.encode({ code: 'Accounting-Request', secret: SECRET, identifier: 2, attributes: [['Acct-Status-Type', 'Start']] }),
    encodePacket(
      {
        code: 'Access-Request',
        identifier: 3,
        attributes: [
          attribute('User-Name', 'bob'),
          attribute('User-Password', encryptUserPassword('hunter2', SECRET, ra)),
          vendorAttribute('MS-CHAP-Challenge', ra),
        ],
      },
      SECRET,
      ra,
    ),
    encodePacket({ code: 'Access-Challenge', identifier: 4, attributes: [attribute('Reply-Message', 'Code?'), attribute('State', ra)] }, SECRET, ra),
  ];
}

describe('mutated packets', () => {
  it('explicit mutation sequences never throw anything but RadiusDecodeError', () => {
    const stats: Stats = { tried: 0, accepted: 0, refused: {} };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), octet: fc.nat(255) }),
      fc.record({ kind: fc.constant('truncate' as const), to: fc.nat() }),
      fc.record({ kind: fc.constant('append' as const), octets: fc.uint8Array({ maxLength: 40 }) }),
      fc.record({ kind: fc.constant('length' as const), value: fc.nat(0xffff) }),
      fc.record({ kind: fc.constant('attributeLength' as const), index: fc.nat(), value: fc.nat(255) }),
      fc.record({ kind: fc.constant('concat' as const), fixLength: fc.boolean() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), octets: fc.uint8Array({ minLength: 1, maxLength: 20 }), fixLength: fc.boolean() }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 20 }), fixLength: fc.boolean() }),
      fc.record({ kind: fc.constant('code' as const), value: fc.nat(255) }),
    );
    fc.assert(
      fc.property(seedPacket, seedPacket, fc.array(op, { minLength: 1, maxLength: 6 }), (base, partner, ops) => {
        let buf = base;
        for (const o of ops) {
          buf = apply(buf, o, partner);
          check(buf, stats);
        }
      }),
      { numRuns: 2_000, seed: FUZZ_SEED },
    );
    expect(stats.accepted).toBeGreaterThan(0);
  });

  it(
    `${FUZZ_RUNS.toLocaleString('en')} mutated packets never throw anything but RadiusDecodeError, and accepted ones are round-trip stable`,
    { timeout: 60_000 + FUZZ_RUNS * 0.2 },
    () => {
      const stats: Stats = { tried: 0, accepted: 0, refused: {} };
      const corpus = referencePackets();
      const start = performance.now();
      let slowest = 0;
      fc.assert(
        fc.property(fc.oneof(seedPacket, fc.constantFrom(...corpus)), seedPacket, fc.nat(), (base, partner, seed) => {
          const s = new Stream(seed);
          check(base, stats);
          for (let i = 0; i < MUTATIONS_PER_BASE; i++) {
            let buf = base;
            const steps = 1 + s.int(3);
            for (let k = 0; k < steps; k++) buf = apply(buf, randomOp(s), s.int(2) === 0 ? partner : base);
            const t0 = performance.now();
            check(buf, stats);
            slowest = Math.max(slowest, performance.now() - t0);
          }
        }),
        { numRuns: Math.ceil(FUZZ_RUNS / MUTATIONS_PER_BASE), seed: FUZZ_SEED },
      );
      const seconds = (performance.now() - start) / 1000;
      const refused = Object.entries(stats.refused)
        .sort((a, b) => b[1] - a[1])
        .map(([reason, n]) => `${reason} ${n}`)
        .join(', ');
      console.log(
        `radius fuzz: ${stats.tried} packets (${stats.accepted} accepted; refused: ${refused}) in ${seconds.toFixed(1)} s; slowest check ${slowest.toFixed(2)} ms`,
      );
      expect(stats.tried).toBeGreaterThanOrEqual(FUZZ_RUNS);
      expect(stats.accepted).toBeGreaterThan(stats.tried / 100);
      // No packet, however malformed, takes more than a blink to refuse or accept.
      expect(slowest).toBeLessThan(1000);
    },
  );

  it('refuses the worst cases quickly: 4096 octets of empty attributes, and a chain of maximal ones', () => {
    const empties = new Uint8Array(4096);
    empties[0] = 1;
    setLength(empties, 4096);
    for (let at = 20; at < 4096; at += 2) empties.set([33, 2], at);
    expect(() => decodePacket(empties)).toThrow(RadiusDecodeError);
    expect(decodePacket(empties, { maxAttributes: 2038 }).attributes).toHaveLength(2038);
    const largest = [...Array.from({ length: 15 }, () => ({ type: 25, value: new Uint8Array(253) })), { type: 25, value: new Uint8Array(231) }];
    const maximal = encodePacket({ code: 'Access-Reject', identifier: 1, attributes: largest }, SECRET, ZERO16);
    expect(maximal.length).toBe(4096);
    expect(decodePacket(maximal).attributes).toHaveLength(17);
  });
});
