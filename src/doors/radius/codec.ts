/**
 * RADIUS packet codec (RFC 2865, RFC 2866 accounting, RFC 3579 / 2869 Message-Authenticator,
 * RFC 5997 Status-Server), written for Countersign: no maintained library exists.
 *
 * - `decodePacket` checks the packet's structure strictly and throws only RadiusDecodeError. It does
 *   not decode attribute values: the typed accessors on RadiusPacket read a value when asked.
 * - `encodePacket` signs: Request / Response Authenticators and a Message-Authenticator, which is
 *   always the first attribute (Blast-RADIUS hardening, CVE-2024-3596).
 * - `verifyRequest`, `verifyAccountingRequest`, `verifyResponse` check what the sender signed, in
 *   constant time.
 * - User-Password hiding (RFC 2865 section 5.2) and salt encryption (RFC 2548 section 2.4.2, MS-MPPE
 *   keys), for the server and for proxying to an upstream server.
 *
 * A known attribute whose value does not fit its data type (an integer that is not 4 octets, text that
 * is not UTF-8, ...) is an "invalid attribute" (RFC 6929 section 2.8): the packet still decodes, the
 * attribute keeps its raw octets, and the typed accessors skip it.
 */
import { createHash, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import ipaddr from 'ipaddr.js';
import { systemRandom } from '../../platform/random.ts';
import {
  ATTRIBUTES,
  MESSAGE_AUTHENTICATOR,
  PACKET_CODE_NAMES,
  PACKET_CODES,
  USER_PASSWORD,
  VENDOR_ATTRIBUTES,
  VENDOR_SPECIFIC,
  type AttributeName,
  type AttributeValue,
  type DataType,
  type DataTypeValues,
  type PacketCode,
  type VendorAttributeName,
  type VendorAttributeValue,
  type VendorSpecific,
} from './dictionary.ts';

/** RFC 2865 section 3: a packet is 20 to 4096 octets. */
export const HEADER_LENGTH = 20;
export const MAX_PACKET_LENGTH = 4096;
/** Most octets an attribute value can hold (its length octet counts type and length too). */
export const MAX_ATTRIBUTE_VALUE_LENGTH = 253;
/** Most attributes decodePacket accepts in one packet, unless told otherwise. */
export const MAX_ATTRIBUTES = 255;
/** RFC 2865 section 5.2: User-Password hides at most 128 octets. */
export const MAX_PASSWORD_LENGTH = 128;
export const MIN_SECRET_LENGTH = 1;
export const MAX_SECRET_LENGTH = 128;
const AUTHENTICATOR_LENGTH = 16;
const MESSAGE_AUTHENTICATOR_ATTRIBUTE_LENGTH = 18;

export type RadiusDecodeReason =
  | 'too_short'
  | 'too_long'
  | 'unknown_code'
  | 'length_mismatch'
  | 'bad_attribute_length'
  | 'too_many_attributes'
  | 'duplicate_message_authenticator'
  | 'bad_message_authenticator_length'
  | 'bad_password_length'
  | 'bad_salted_value';

/** Bytes from the network that are not a well-formed RADIUS packet (or hidden value). */
export class RadiusDecodeError extends Error {
  readonly reason: RadiusDecodeReason;
  constructor(reason: RadiusDecodeReason, message: string) {
    super(message);
    this.name = 'RadiusDecodeError';
    this.reason = reason;
  }
}

export type RadiusEncodeReason =
  | 'bad_secret'
  | 'bad_identifier'
  | 'bad_authenticator'
  | 'authenticator_required'
  | 'bad_attribute_type'
  | 'bad_value'
  | 'attribute_too_long'
  | 'too_many_attributes'
  | 'packet_too_long'
  | 'password_too_long';

/** The caller asked for something RADIUS cannot carry, or gave a shared secret outside 1..128 octets. */
export class RadiusEncodeError extends Error {
  readonly reason: RadiusEncodeReason;
  constructor(reason: RadiusEncodeReason, message: string) {
    super(message);
    this.name = 'RadiusEncodeError';
    this.reason = reason;
  }
}

/**
 * A shared secret checked once (1 to 128 octets) with its HMAC key prepared. Every function here also
 * takes the secret as a string (UTF-8) or octets; pass a RadiusSecret on hot paths.
 */
export class RadiusSecret {
  readonly bytes: Buffer;
  readonly hmacKey: KeyObject;
  constructor(secret: string | Uint8Array) {
    const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
    if (bytes.length < MIN_SECRET_LENGTH || bytes.length > MAX_SECRET_LENGTH) {
      throw new RadiusEncodeError('bad_secret', `a RADIUS shared secret must be ${MIN_SECRET_LENGTH} to ${MAX_SECRET_LENGTH} octets, not ${bytes.length}`);
    }
    this.bytes = bytes;
    this.hmacKey = createSecretKey(bytes);
  }
}

export type SecretInput = string | Uint8Array | RadiusSecret;

function toSecret(secret: SecretInput): RadiusSecret {
  return secret instanceof RadiusSecret ? secret : new RadiusSecret(secret);
}

/** One attribute as it stands in the packet: its type number and raw value octets. */
export interface RadiusAttribute {
  readonly type: number;
  readonly value: Uint8Array;
}

/** A sub-attribute of a standard-format Vendor-Specific attribute. */
export interface VendorSubAttribute {
  readonly type: number;
  readonly value: Uint8Array;
}

export interface PacketFields {
  readonly code: PacketCode;
  readonly identifier: number;
  /** 16 octets; zeros when omitted (encodePacket computes or chooses it). */
  readonly authenticator?: Uint8Array;
  /** In packet order, duplicates kept. */
  readonly attributes: readonly RadiusAttribute[];
}

const ZERO_AUTHENTICATOR = new Uint8Array(AUTHENTICATOR_LENGTH);
const textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
const textEncoder = new TextEncoder();

/** A RADIUS packet: header fields and attributes in order, with typed read access. */
export class RadiusPacket {
  readonly code: PacketCode;
  readonly identifier: number;
  readonly authenticator: Uint8Array;
  readonly attributes: readonly RadiusAttribute[];

  constructor(fields: PacketFields) {
    this.code = fields.code;
    this.identifier = fields.identifier;
    this.authenticator = fields.authenticator ?? new Uint8Array(AUTHENTICATOR_LENGTH);
    this.attributes = fields.attributes;
  }

  /** The first valid value of a dictionary attribute, or undefined. */
  get<N extends AttributeName>(name: N): AttributeValue<N> | undefined {
    const spec = ATTRIBUTES[name];
    for (const attr of this.attributes) {
      if (attr.type !== spec.type) continue;
      const value = readValue(spec.dataType, attr.value);
      if (value !== undefined) return value as AttributeValue<N>;
    }
    return undefined;
  }

  /** Every valid value of a dictionary attribute, in packet order. */
  getAll<N extends AttributeName>(name: N): AttributeValue<N>[] {
    const spec = ATTRIBUTES[name];
    const out: AttributeValue<N>[] = [];
    for (const attr of this.attributes) {
      if (attr.type !== spec.type) continue;
      const value = readValue(spec.dataType, attr.value);
      if (value !== undefined) out.push(value as AttributeValue<N>);
    }
    return out;
  }

  /** Whether an attribute of this name or number is present (valid or not). */
  has(type: AttributeName | number): boolean {
    const t = typeof type === 'number' ? type : ATTRIBUTES[type].type;
    return this.attributes.some((a) => a.type === t);
  }

  /** How many attributes of this name or number the packet holds (valid or not). */
  count(type: AttributeName | number): number {
    const t = typeof type === 'number' ? type : ATTRIBUTES[type].type;
    let n = 0;
    for (const attr of this.attributes) if (attr.type === t) n++;
    return n;
  }

  /** The raw octets of every attribute of this number, in packet order (for types not in the dictionary). */
  raw(type: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const attr of this.attributes) if (attr.type === type) out.push(attr.value);
    return out;
  }

  /** The first valid value of a vendor attribute carried in standard-format Vendor-Specific attributes. */
  getVendor<N extends VendorAttributeName>(name: N): VendorAttributeValue<N> | undefined {
    return this.getVendorAll(name)[0];
  }

  /** Every valid value of a vendor attribute, in packet order. */
  getVendorAll<N extends VendorAttributeName>(name: N): VendorAttributeValue<N>[] {
    const spec = VENDOR_ATTRIBUTES[name];
    const out: VendorAttributeValue<N>[] = [];
    for (const sub of this.vendorAttributes(spec.vendorId)) {
      if (sub.type !== spec.type) continue;
      const value = readValue(spec.dataType, sub.value);
      if (value !== undefined) out.push(value as VendorAttributeValue<N>);
    }
    return out;
  }

  /** The sub-attributes of every standard-format Vendor-Specific attribute from this vendor. */
  vendorAttributes(vendorId: number): VendorSubAttribute[] {
    const out: VendorSubAttribute[] = [];
    for (const attr of this.attributes) {
      if (attr.type !== VENDOR_SPECIFIC) continue;
      const vsa = readVendorSpecific(attr.value);
      if (vsa?.vendorId !== vendorId) continue;
      const subs = readVendorAttributes(vsa.data);
      if (subs) out.push(...subs);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Values

function readUint32(v: Uint8Array, at = 0): number {
  return ((v[at]! << 24) | (v[at + 1]! << 16) | (v[at + 2]! << 8) | v[at + 3]!) >>> 0;
}

function writeUint32(out: Uint8Array, at: number, n: number): void {
  out[at] = n >>> 24;
  out[at + 1] = (n >>> 16) & 0xff;
  out[at + 2] = (n >>> 8) & 0xff;
  out[at + 3] = n & 0xff;
}

/** A Vendor-Specific value as vendor id + data, or undefined when it is not one (RFC 2865 section 5.26). */
export function readVendorSpecific(value: Uint8Array): VendorSpecific | undefined {
  // Vendor-Id (high octet 0) and at least one octet of data.
  if (value.length < 5 || value[0] !== 0) return undefined;
  return { vendorId: readUint32(value), data: value.subarray(4) };
}

/**
 * Reads vendor data in the standard format (vendor type, vendor length >= 2, value), as Microsoft's
 * (311) and most vendors' attributes are. Undefined when the data is not in that format.
 */
export function readVendorAttributes(data: Uint8Array): VendorSubAttribute[] | undefined {
  const out: VendorSubAttribute[] = [];
  let at = 0;
  while (at < data.length) {
    if (at + 2 > data.length) return undefined;
    const length = data[at + 1]!;
    if (length < 2 || at + length > data.length) return undefined;
    out.push({ type: data[at]!, value: data.subarray(at + 2, at + length) });
    at += length;
  }
  return out;
}

/** Reads a value as its data type; undefined when the octets do not fit the type. */
function readValue(dataType: DataType, v: Uint8Array): DataTypeValues[DataType] | undefined {
  switch (dataType) {
    case 'octets':
      return v;
    case 'string':
      return isUtf8(v) ? textDecoder.decode(v) : undefined;
    case 'integer':
      return v.length === 4 ? readUint32(v) : undefined;
    case 'date':
      return v.length === 4 ? new Date(readUint32(v) * 1000) : undefined;
    case 'ipaddr':
      return v.length === 4 ? `${v[0]!}.${v[1]!}.${v[2]!}.${v[3]!}` : undefined;
    case 'ipv6addr':
      return v.length === 16 ? ipaddr.fromByteArray(Array.from(v)).toString() : undefined;
    case 'vsa':
      return readVendorSpecific(v);
  }
}

function badValue(what: string, detail: string): RadiusEncodeError {
  return new RadiusEncodeError('bad_value', `${what}: ${detail}`);
}

function isUint32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/** Writes a value of a data type as octets; RadiusEncodeError('bad_value') when it does not fit. */
function writeValue(dataType: DataType, value: unknown, what: string): Uint8Array {
  switch (dataType) {
    case 'octets':
      if (!(value instanceof Uint8Array)) throw badValue(what, 'expected octets (Uint8Array)');
      return new Uint8Array(value);
    case 'string':
      if (typeof value !== 'string') throw badValue(what, 'expected a string');
      return textEncoder.encode(value);
    case 'integer': {
      if (!isUint32(value)) throw badValue(what, 'expected an integer from 0 to 4294967295');
      const out = new Uint8Array(4);
      writeUint32(out, 0, value);
      return out;
    }
    case 'date': {
      if (!(value instanceof Date)) throw badValue(what, 'expected a Date');
      const seconds = Math.floor(value.getTime() / 1000);
      if (!isUint32(seconds)) throw badValue(what, 'a date must fall between 1970 and 2106');
      const out = new Uint8Array(4);
      writeUint32(out, 0, seconds);
      return out;
    }
    case 'ipaddr':
      if (typeof value !== 'string' || !ipaddr.IPv4.isValidFourPartDecimal(value)) throw badValue(what, 'expected an IPv4 address (a.b.c.d)');
      return new Uint8Array(ipaddr.IPv4.parse(value).toByteArray());
    case 'ipv6addr': {
      if (typeof value !== 'string' || !ipaddr.IPv6.isValid(value)) throw badValue(what, 'expected an IPv6 address');
      const parsed = ipaddr.IPv6.parse(value);
      if (parsed.zoneId !== undefined) throw badValue(what, 'an IPv6 address in RADIUS has no zone');
      return new Uint8Array(parsed.toByteArray());
    }
    case 'vsa': {
      const vsa = value as Partial<VendorSpecific> | null;
      if (typeof vsa !== 'object' || vsa === null || !(vsa.data instanceof Uint8Array)) throw badValue(what, 'expected { vendorId, data }');
      return vendorSpecificValue(vsa.vendorId, vsa.data);
    }
  }
}

function vendorSpecificValue(vendorId: unknown, data: Uint8Array): Uint8Array {
  if (!isUint32(vendorId) || vendorId > 0xffffff) throw badValue('Vendor-Specific', 'a vendor id is an SMI enterprise number below 2^24');
  if (data.length < 1) throw badValue('Vendor-Specific', 'vendor data must not be empty');
  const out = new Uint8Array(4 + data.length);
  writeUint32(out, 0, vendorId);
  out.set(data, 4);
  return checkValueLength(out, 'Vendor-Specific');
}

function checkValueLength(value: Uint8Array, what: string): Uint8Array {
  if (value.length > MAX_ATTRIBUTE_VALUE_LENGTH) {
    throw new RadiusEncodeError('attribute_too_long', `${what}: ${value.length} octets; an attribute holds at most ${MAX_ATTRIBUTE_VALUE_LENGTH}`);
  }
  return value;
}

/** A dictionary attribute with its value written in its data type. */
export function attribute<N extends AttributeName>(name: N, value: AttributeValue<N>): RadiusAttribute {
  const spec = ATTRIBUTES[name];
  return { type: spec.type, value: checkValueLength(writeValue(spec.dataType, value, name), name) };
}

/** A Vendor-Specific attribute holding standard-format sub-attributes of one vendor. */
export function vendorSpecific(vendorId: number, subAttributes: readonly VendorSubAttribute[]): RadiusAttribute {
  let size = 0;
  for (const sub of subAttributes) size += 2 + sub.value.length;
  const data = new Uint8Array(size);
  let at = 0;
  for (const sub of subAttributes) {
    if (!Number.isInteger(sub.type) || sub.type < 0 || sub.type > 255)
      throw new RadiusEncodeError('bad_attribute_type', `vendor attribute type ${sub.type} is not 0..255`);
    if (2 + sub.value.length > 255) throw new RadiusEncodeError('attribute_too_long', `vendor attribute ${sub.type}: ${sub.value.length} octets`);
    data[at] = sub.type;
    data[at + 1] = 2 + sub.value.length;
    data.set(sub.value, at + 2);
    at += 2 + sub.value.length;
  }
  return { type: VENDOR_SPECIFIC, value: vendorSpecificValue(vendorId, data) };
}

/** A dictionary vendor attribute (e.g. 'MS-CHAP2-Success') in its own Vendor-Specific attribute. */
export function vendorAttribute<N extends VendorAttributeName>(name: N, value: VendorAttributeValue<N>): RadiusAttribute {
  const spec = VENDOR_ATTRIBUTES[name];
  return vendorSpecific(spec.vendorId, [{ type: spec.type, value: writeValue(spec.dataType, value, name) }]);
}

// ---------------------------------------------------------------------------------------------
// Decoding

export interface DecodeOptions {
  /** Most attributes accepted (default MAX_ATTRIBUTES). */
  maxAttributes?: number;
}

/** Where a packet ends and where its Message-Authenticator value starts (-1 when it has none). */
interface Layout {
  length: number;
  messageAuthenticatorAt: number;
}

function fail(reason: RadiusDecodeReason, message: string): never {
  throw new RadiusDecodeError(reason, message);
}

/**
 * Checks a datagram's structure; calls `each` for every attribute. Octets past the Length field are
 * padding and ignored (RFC 2865 section 3); a datagram over 4096 octets is refused outright.
 */
function scan(buf: Uint8Array, maxAttributes: number, each?: (type: number, start: number, end: number) => void): Layout {
  if (buf.length < HEADER_LENGTH) fail('too_short', `${buf.length} octets; a RADIUS packet has at least ${HEADER_LENGTH}`);
  if (buf.length > MAX_PACKET_LENGTH) fail('too_long', `${buf.length} octets; a RADIUS packet has at most ${MAX_PACKET_LENGTH}`);
  if (!PACKET_CODE_NAMES.has(buf[0]!)) fail('unknown_code', `packet code ${buf[0]!} is not supported`);
  const length = (buf[2]! << 8) | buf[3]!;
  if (length < HEADER_LENGTH || length > buf.length) fail('length_mismatch', `Length field ${length}, datagram ${buf.length} octets`);
  let messageAuthenticatorAt = -1;
  let count = 0;
  let at = HEADER_LENGTH;
  while (at < length) {
    if (at + 2 > length) fail('bad_attribute_length', `attribute at offset ${at} has no length octet`);
    const type = buf[at]!;
    const attrLength = buf[at + 1]!;
    if (attrLength < 2 || at + attrLength > length) fail('bad_attribute_length', `attribute ${type} at offset ${at} has length ${attrLength}`);
    if (++count > maxAttributes) fail('too_many_attributes', `more than ${maxAttributes} attributes`);
    if (type === MESSAGE_AUTHENTICATOR) {
      if (messageAuthenticatorAt !== -1) fail('duplicate_message_authenticator', 'more than one Message-Authenticator');
      if (attrLength !== MESSAGE_AUTHENTICATOR_ATTRIBUTE_LENGTH) fail('bad_message_authenticator_length', `Message-Authenticator of length ${attrLength}`);
      messageAuthenticatorAt = at + 2;
    }
    each?.(type, at + 2, at + attrLength);
    at += attrLength;
  }
  return { length, messageAuthenticatorAt };
}

/**
 * Decodes a datagram. Throws RadiusDecodeError, and nothing else, when it is not a well-formed packet.
 * The packet holds a copy of the octets: `buf` may be reused afterwards.
 */
export function decodePacket(buf: Uint8Array, options: DecodeOptions = {}): RadiusPacket {
  const attributes: RadiusAttribute[] = [];
  const ranges: number[] = [];
  const { length } = scan(buf, options.maxAttributes ?? MAX_ATTRIBUTES, (type, start, end) => {
    ranges.push(type, start, end);
  });
  const bytes = new Uint8Array(length);
  bytes.set(buf.subarray(0, length));
  for (let i = 0; i < ranges.length; i += 3) {
    attributes.push({ type: ranges[i]!, value: bytes.subarray(ranges[i + 1], ranges[i + 2]) });
  }
  return new RadiusPacket({
    code: PACKET_CODE_NAMES.get(bytes[0]!)!,
    identifier: bytes[1]!,
    authenticator: bytes.subarray(4, HEADER_LENGTH),
    attributes,
  });
}

// ---------------------------------------------------------------------------------------------
// Encoding

type Role = 'access-request' | 'accounting-request' | 'response';

const ROLES: Record<PacketCode, Role> = {
  'Access-Request': 'access-request',
  'Status-Server': 'access-request',
  'Status-Client': 'access-request',
  'Accounting-Request': 'accounting-request',
  'Access-Accept': 'response',
  'Access-Reject': 'response',
  'Access-Challenge': 'response',
  'Accounting-Response': 'response',
};

/** Whether encodePacket adds a Message-Authenticator when not told. */
const MESSAGE_AUTHENTICATOR_BY_DEFAULT: Record<PacketCode, boolean> = {
  'Access-Request': true,
  'Status-Server': true, // RFC 5997: required
  'Status-Client': true,
  'Access-Accept': true,
  'Access-Reject': true,
  'Access-Challenge': true,
  'Accounting-Request': false,
  'Accounting-Response': false,
};

export interface EncodeOptions {
  /**
   * Add a Message-Authenticator, first among the attributes. Default: true for Access-Request,
   * Status-Server, Access-Accept, Access-Reject and Access-Challenge; for accounting packets, true only
   * when the packet's attributes include one. A Message-Authenticator among the given attributes is
   * always recomputed (or left out when this is false).
   */
  messageAuthenticator?: boolean;
}

function checkAuthenticator(a: Uint8Array, what: string): void {
  if (!(a instanceof Uint8Array) || a.length !== AUTHENTICATOR_LENGTH) {
    throw new RadiusEncodeError('bad_authenticator', `${what} must be ${AUTHENTICATOR_LENGTH} octets`);
  }
}

/**
 * Encodes and signs a packet.
 *
 * `requestAuthenticator`:
 * - for Access-Accept / Reject / Challenge and Accounting-Response: the Request Authenticator of the
 *   request answered (required); the Response Authenticator is MD5(Code+ID+Length+RequestAuth+Attributes+Secret);
 * - for Access-Request and Status-Server: the Request Authenticator to send, random when omitted. Pass
 *   the one User-Password was hidden with; a User-Password without it is refused;
 * - for Accounting-Request: ignored; the Request Authenticator is computed (RFC 2866 section 3).
 *
 * The Message-Authenticator is an HMAC-MD5 over the packet with its own value zeroed and, in the
 * header, the Request Authenticator (requests and responses) or zeros (Accounting-Request).
 */
export function encodePacket(packet: PacketFields, secret: SecretInput, requestAuthenticator?: Uint8Array, options: EncodeOptions = {}): Buffer {
  const s = toSecret(secret);
  const code = PACKET_CODES[packet.code];
  if (code === undefined) throw new RadiusEncodeError('bad_value', `unknown packet code ${String(packet.code)}`);
  const role = ROLES[packet.code];
  if (!Number.isInteger(packet.identifier) || packet.identifier < 0 || packet.identifier > 255) {
    throw new RadiusEncodeError('bad_identifier', `identifier ${packet.identifier} is not 0..255`);
  }
  const given = packet.attributes.some((a) => a.type === MESSAGE_AUTHENTICATOR);
  const withMessageAuthenticator = options.messageAuthenticator ?? (MESSAGE_AUTHENTICATOR_BY_DEFAULT[packet.code] || given);

  let header: Uint8Array;
  if (role === 'response') {
    if (requestAuthenticator === undefined)
      throw new RadiusEncodeError('authenticator_required', `${packet.code} needs the Request Authenticator of the request it answers`);
    checkAuthenticator(requestAuthenticator, 'the Request Authenticator');
    header = requestAuthenticator;
  } else if (role === 'access-request') {
    if (requestAuthenticator === undefined) {
      if (packet.attributes.some((a) => a.type === USER_PASSWORD)) {
        throw new RadiusEncodeError('authenticator_required', 'a User-Password is hidden with the Request Authenticator: pass the one it was hidden with');
      }
      header = systemRandom.bytes(AUTHENTICATOR_LENGTH);
    } else {
      checkAuthenticator(requestAuthenticator, 'the Request Authenticator');
      header = requestAuthenticator;
    }
  } else {
    header = ZERO_AUTHENTICATOR;
  }

  let length = HEADER_LENGTH + (withMessageAuthenticator ? MESSAGE_AUTHENTICATOR_ATTRIBUTE_LENGTH : 0);
  let count = withMessageAuthenticator ? 1 : 0;
  for (const attr of packet.attributes) {
    if (attr.type === MESSAGE_AUTHENTICATOR) continue;
    if (!Number.isInteger(attr.type) || attr.type < 0 || attr.type > 255)
      throw new RadiusEncodeError('bad_attribute_type', `attribute type ${attr.type} is not 0..255`);
    checkValueLength(attr.value, `attribute ${attr.type}`);
    length += 2 + attr.value.length;
    count++;
  }
  if (count > MAX_ATTRIBUTES) throw new RadiusEncodeError('too_many_attributes', `${count} attributes; a packet holds at most ${MAX_ATTRIBUTES}`);
  if (length > MAX_PACKET_LENGTH) throw new RadiusEncodeError('packet_too_long', `${length} octets; a RADIUS packet holds at most ${MAX_PACKET_LENGTH}`);

  const out = Buffer.allocUnsafe(length);
  out[0] = code;
  out[1] = packet.identifier;
  out[2] = length >>> 8;
  out[3] = length & 0xff;
  out.set(header, 4);
  let at = HEADER_LENGTH;
  if (withMessageAuthenticator) {
    out[at] = MESSAGE_AUTHENTICATOR;
    out[at + 1] = MESSAGE_AUTHENTICATOR_ATTRIBUTE_LENGTH;
    out.fill(0, at + 2, at + MESSAGE_AUTHENTICATOR_ATTRIBUTE_LENGTH);
    at += MESSAGE_AUTHENTICATOR_ATTRIBUTE_LENGTH;
  }
  for (const attr of packet.attributes) {
    if (attr.type === MESSAGE_AUTHENTICATOR) continue;
    out[at] = attr.type;
    out[at + 1] = 2 + attr.value.length;
    out.set(attr.value, at + 2);
    at += 2 + attr.value.length;
  }

  if (withMessageAuthenticator) {
    createHmac('md5', s.hmacKey)
      .update(out)
      .digest()
      .copy(out, HEADER_LENGTH + 2);
  }
  if (role !== 'access-request') {
    createHash('md5').update(out).update(s.bytes).digest().copy(out, 4);
  }
  return out;
}

/**
 * The packet's octets exactly as its fields stand, authenticator included, with no signing: for
 * relaying a packet unchanged and for tests. Attributes keep their order; a packet decodePacket
 * accepted serializes to the octets it was decoded from (up to its Length field).
 */
export function serializePacket(packet: PacketFields): Buffer {
  const code = PACKET_CODES[packet.code];
  if (code === undefined) throw new RadiusEncodeError('bad_value', `unknown packet code ${String(packet.code)}`);
  if (!Number.isInteger(packet.identifier) || packet.identifier < 0 || packet.identifier > 255) {
    throw new RadiusEncodeError('bad_identifier', `identifier ${packet.identifier} is not 0..255`);
  }
  const authenticator = packet.authenticator ?? ZERO_AUTHENTICATOR;
  checkAuthenticator(authenticator, 'the authenticator');
  let length = HEADER_LENGTH;
  for (const attr of packet.attributes) {
    if (!Number.isInteger(attr.type) || attr.type < 0 || attr.type > 255)
      throw new RadiusEncodeError('bad_attribute_type', `attribute type ${attr.type} is not 0..255`);
    checkValueLength(attr.value, `attribute ${attr.type}`);
    length += 2 + attr.value.length;
  }
  if (packet.attributes.length > MAX_ATTRIBUTES)
    throw new RadiusEncodeError('too_many_attributes', `${packet.attributes.length} attributes; at most ${MAX_ATTRIBUTES}`);
  if (length > MAX_PACKET_LENGTH) throw new RadiusEncodeError('packet_too_long', `${length} octets; a RADIUS packet holds at most ${MAX_PACKET_LENGTH}`);
  const out = Buffer.allocUnsafe(length);
  out[0] = code;
  out[1] = packet.identifier;
  out[2] = length >>> 8;
  out[3] = length & 0xff;
  out.set(authenticator, 4);
  let at = HEADER_LENGTH;
  for (const attr of packet.attributes) {
    out[at] = attr.type;
    out[at + 1] = 2 + attr.value.length;
    out.set(attr.value, at + 2);
    at += 2 + attr.value.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Verification

export type RequestVerdict = 'valid' | 'missing' | 'invalid';

/** HMAC-MD5 of the packet with `authenticator` in the header and the Message-Authenticator zeroed. */
function messageAuthenticatorOf(raw: Uint8Array, layout: Layout, authenticator: Uint8Array, s: RadiusSecret): Buffer {
  const at = layout.messageAuthenticatorAt;
  return createHmac('md5', s.hmacKey)
    .update(raw.subarray(0, 4))
    .update(authenticator)
    .update(raw.subarray(HEADER_LENGTH, at))
    .update(ZERO_AUTHENTICATOR)
    .update(raw.subarray(at + AUTHENTICATOR_LENGTH, layout.length))
    .digest();
}

/** MD5(Code+ID+Length+authenticator+Attributes+Secret). */
function packetDigest(raw: Uint8Array, layout: Layout, authenticator: Uint8Array, s: RadiusSecret): Buffer {
  return createHash('md5').update(raw.subarray(0, 4)).update(authenticator).update(raw.subarray(HEADER_LENGTH, layout.length)).update(s.bytes).digest();
}

function sameOctets(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function messageAuthenticatorMatches(raw: Uint8Array, layout: Layout, headerAuthenticator: Uint8Array, s: RadiusSecret): boolean {
  const at = layout.messageAuthenticatorAt;
  return sameOctets(messageAuthenticatorOf(raw, layout, headerAuthenticator, s), raw.subarray(at, at + AUTHENTICATOR_LENGTH));
}

/**
 * Checks a request's signature against the octets it was decoded from.
 * - Access-Request, Status-Server: the Message-Authenticator (RFC 3579 section 3.2): 'missing' when
 *   there is none (callers that require it drop the packet), 'invalid' when it does not match.
 * - Accounting-Request: as verifyAccountingRequest ('valid' or 'invalid').
 * - A response code, or octets that do not hold this packet: 'invalid'.
 * Throws RadiusDecodeError when `raw` is not a well-formed packet.
 */
export function verifyRequest(packet: RadiusPacket, raw: Uint8Array, secret: SecretInput): RequestVerdict {
  const s = toSecret(secret);
  const layout = scan(raw, Number.POSITIVE_INFINITY);
  if (raw[0] !== PACKET_CODES[packet.code] || raw[1] !== packet.identifier) return 'invalid';
  switch (ROLES[packet.code]) {
    case 'response':
      return 'invalid';
    case 'accounting-request':
      return checkAccountingRequest(raw, layout, s);
    case 'access-request':
      if (layout.messageAuthenticatorAt === -1) return 'missing';
      return messageAuthenticatorMatches(raw, layout, raw.subarray(4, HEADER_LENGTH), s) ? 'valid' : 'invalid';
  }
}

function checkAccountingRequest(raw: Uint8Array, layout: Layout, s: RadiusSecret): 'valid' | 'invalid' {
  // Both checks run so that timing does not tell which one failed.
  const digestOk = sameOctets(packetDigest(raw, layout, ZERO_AUTHENTICATOR, s), raw.subarray(4, HEADER_LENGTH));
  const maOk = layout.messageAuthenticatorAt === -1 || messageAuthenticatorMatches(raw, layout, ZERO_AUTHENTICATOR, s);
  return digestOk && maOk ? 'valid' : 'invalid';
}

/**
 * Checks an Accounting-Request's Request Authenticator, MD5(Code+ID+Length+16 zero octets+Attributes+Secret)
 * (RFC 2866 section 3), and its Message-Authenticator when present (computed with a zero authenticator).
 * Throws RadiusDecodeError when `raw` is not a well-formed packet.
 */
export function verifyAccountingRequest(raw: Uint8Array, secret: SecretInput): 'valid' | 'invalid' {
  const s = toSecret(secret);
  const layout = scan(raw, Number.POSITIVE_INFINITY);
  if (raw[0] !== PACKET_CODES['Accounting-Request']) return 'invalid';
  return checkAccountingRequest(raw, layout, s);
}

export interface VerifyResponseOptions {
  /** Answer 'missing' when the response has no Message-Authenticator (default false). */
  requireMessageAuthenticator?: boolean;
}

/**
 * Checks a response from an upstream server (proxy mode): its Response Authenticator and, when present,
 * its Message-Authenticator, both against the Request Authenticator of the request sent.
 * Throws RadiusDecodeError when `raw` is not a well-formed packet.
 */
export function verifyResponse(raw: Uint8Array, requestAuthenticator: Uint8Array, secret: SecretInput, options: VerifyResponseOptions = {}): RequestVerdict {
  const s = toSecret(secret);
  checkAuthenticator(requestAuthenticator, 'the Request Authenticator');
  const layout = scan(raw, Number.POSITIVE_INFINITY);
  const code = PACKET_CODE_NAMES.get(raw[0]!)!;
  if (ROLES[code] !== 'response') return 'invalid';
  const digestOk = sameOctets(packetDigest(raw, layout, requestAuthenticator, s), raw.subarray(4, HEADER_LENGTH));
  if (layout.messageAuthenticatorAt === -1) {
    if (!digestOk) return 'invalid';
    return options.requireMessageAuthenticator === true ? 'missing' : 'valid';
  }
  const maOk = messageAuthenticatorMatches(raw, layout, requestAuthenticator, s);
  return digestOk && maOk ? 'valid' : 'invalid';
}

// ---------------------------------------------------------------------------------------------
// Hidden values

function toBytes(value: string | Uint8Array): Uint8Array {
  return typeof value === 'string' ? textEncoder.encode(value) : value;
}

/**
 * XORs `data` (a multiple of 16 octets) with the RFC 2865 section 5.2 key stream: b1 = MD5(S + first),
 * bi = MD5(S + c(i-1)), where c is the ciphertext. `decrypt` says which side holds the ciphertext.
 */
function hideStream(data: Uint8Array, s: RadiusSecret, first: Uint8Array[], decrypt: boolean): Uint8Array {
  const out = new Uint8Array(data.length);
  let previous: Uint8Array[] = first;
  for (let at = 0; at < data.length; at += 16) {
    const hash = createHash('md5').update(s.bytes);
    for (const part of previous) hash.update(part);
    const b = hash.digest();
    for (let i = 0; i < 16; i++) out[at + i] = data[at + i]! ^ b[i]!;
    previous = [(decrypt ? data : out).subarray(at, at + 16)];
  }
  return out;
}

/**
 * Hides a password as the User-Password value (RFC 2865 section 5.2): padded with NULs to a multiple
 * of 16 octets (16 for an empty password), at most 128 octets.
 */
export function encryptUserPassword(password: string | Uint8Array, secret: SecretInput, requestAuthenticator: Uint8Array): Uint8Array {
  const s = toSecret(secret);
  checkAuthenticator(requestAuthenticator, 'the Request Authenticator');
  const plain = toBytes(password);
  if (plain.length > MAX_PASSWORD_LENGTH) throw new RadiusEncodeError('password_too_long', `a User-Password holds at most ${MAX_PASSWORD_LENGTH} octets`);
  const padded = new Uint8Array(Math.max(16, Math.ceil(plain.length / 16) * 16));
  padded.set(plain);
  return hideStream(padded, s, [requestAuthenticator], false);
}

/**
 * Reveals a User-Password value (RFC 2865 section 5.2), without its trailing NUL padding. A value that
 * is empty, not a multiple of 16 octets or over 128 octets is RadiusDecodeError('bad_password_length').
 * A wrong secret gives wrong octets, not an error.
 */
export function decryptUserPassword(octets: Uint8Array, secret: SecretInput, requestAuthenticator: Uint8Array): Uint8Array {
  const s = toSecret(secret);
  checkAuthenticator(requestAuthenticator, 'the Request Authenticator');
  if (octets.length === 0 || octets.length % 16 !== 0 || octets.length > MAX_PASSWORD_LENGTH) {
    fail('bad_password_length', `a User-Password of ${octets.length} octets; expected 16, 32, ... 128`);
  }
  const plain = hideStream(octets, s, [requestAuthenticator], true);
  let end = plain.length;
  while (end > 0 && plain[end - 1] === 0) end--;
  return plain.subarray(0, end);
}

/**
 * Encrypts a value the way MS-MPPE-Send-Key and MS-MPPE-Recv-Key are (RFC 2548 section 2.4.2): a
 * 2-octet salt (high bit set) then the encrypted (length octet + value + NUL padding), keyed by the
 * secret and the Request Authenticator of the request answered. The salt is random unless given;
 * give distinct salts to several values in one packet.
 */
export function encryptSaltedValue(value: Uint8Array, secret: SecretInput, requestAuthenticator: Uint8Array, salt?: Uint8Array): Uint8Array {
  const s = toSecret(secret);
  checkAuthenticator(requestAuthenticator, 'the Request Authenticator');
  const saltBytes = salt === undefined ? systemRandom.bytes(2) : new Uint8Array(salt);
  if (saltBytes.length !== 2) throw new RadiusEncodeError('bad_value', 'a salt is 2 octets');
  saltBytes[0] = saltBytes[0]! | 0x80;
  // The length octet and the value, padded; the result must fit one attribute with its salt.
  const plain = new Uint8Array(Math.ceil((1 + value.length) / 16) * 16);
  if (2 + plain.length > MAX_ATTRIBUTE_VALUE_LENGTH - 6)
    throw new RadiusEncodeError('attribute_too_long', `a salted value of ${value.length} octets does not fit an attribute`);
  plain[0] = value.length;
  plain.set(value, 1);
  const out = new Uint8Array(2 + plain.length);
  out.set(saltBytes);
  out.set(hideStream(plain, s, [requestAuthenticator, saltBytes], false), 2);
  return out;
}

/** Reveals a value encrypted as in RFC 2548 section 2.4.2; RadiusDecodeError('bad_salted_value') when malformed. */
export function decryptSaltedValue(octets: Uint8Array, secret: SecretInput, requestAuthenticator: Uint8Array): Uint8Array {
  const s = toSecret(secret);
  checkAuthenticator(requestAuthenticator, 'the Request Authenticator');
  const cipher = octets.subarray(2);
  if (octets.length < 18 || cipher.length % 16 !== 0 || (octets[0]! & 0x80) === 0) {
    fail('bad_salted_value', `a salted value of ${octets.length} octets (or a salt without its high bit)`);
  }
  const plain = hideStream(cipher, s, [requestAuthenticator, octets.subarray(0, 2)], true);
  const length = plain[0]!;
  if (1 + length > plain.length) fail('bad_salted_value', 'the hidden length exceeds the value');
  return plain.slice(1, 1 + length);
}
