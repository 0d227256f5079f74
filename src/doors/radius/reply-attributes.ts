/**
 * Reply attributes by name and text value (`Class` = `vpn-admins`, `Session-Timeout` = `3600`), as
 * the configuration and the users' records hold them, checked against the dictionary and encoded.
 *
 * In the final Access-Accept, a user's own attributes come last and replace every attribute of the
 * same name from the upstream server's Accept, the client and the directory groups (see
 * withUserAttributes).
 */
import type { ReplyAttribute } from '../../core/types.ts';
import type { ReplyAttributeCheck } from '../../core/ports.ts';
import { attribute, type RadiusAttribute } from './codec.ts';
import { ATTRIBUTES, type AttributeName } from './dictionary.ts';

/** Which part of a reply attribute is wrong, and why. */
export class ReplyAttributeError extends Error {
  readonly part: 'name' | 'value';
  constructor(part: 'name' | 'value', message: string) {
    super(message);
    this.name = 'ReplyAttributeError';
    this.part = part;
  }
}

/**
 * Attributes that carry the protocol itself, not authorization: a user's record may not hold them
 * (a stored State or Message-Authenticator would break every Accept of that user).
 */
export const PROTOCOL_ATTRIBUTES: ReadonlySet<AttributeName> = new Set<AttributeName>([
  'User-Name',
  'User-Password',
  'CHAP-Password',
  'CHAP-Challenge',
  'State',
  'Proxy-State',
  'Message-Authenticator',
  'EAP-Message',
  'Vendor-Specific',
]);

/** One reply attribute, encoded; throws ReplyAttributeError for an unknown name or a value that does not fit its type. */
export function encodeReplyAttribute(a: ReplyAttribute): RadiusAttribute {
  if (!Object.hasOwn(ATTRIBUTES, a.name)) throw new ReplyAttributeError('name', `unknown attribute "${a.name}"`);
  const name = a.name as AttributeName;
  const type = ATTRIBUTES[name].dataType;
  try {
    switch (type) {
      case 'integer':
        if (!/^\d{1,10}$/.test(a.value) || Number(a.value) > 0xffffffff) throw new Error('must be an integer 0..4294967295');
        return attribute(name as never, Number(a.value) as never);
      case 'octets':
        return attribute(name as never, Buffer.from(String(a.value), 'utf8') as never);
      case 'string':
      case 'ipaddr':
      case 'ipv6addr':
        return attribute(name as never, String(a.value) as never);
      default:
        throw new Error(`attributes of type ${type} cannot be configured`);
    }
  } catch (e) {
    throw new ReplyAttributeError('value', (e as Error).message);
  }
}

/** The RADIUS rules for a user's reply attributes, for the core (CoreDeps.replyAttributeCheck). */
export const checkUserReplyAttribute: ReplyAttributeCheck = (a) => {
  if (Object.hasOwn(ATTRIBUTES, a.name) && PROTOCOL_ATTRIBUTES.has(a.name as AttributeName)) {
    return { part: 'name', message: `"${a.name}" is part of the RADIUS exchange, not a reply attribute` };
  }
  try {
    encodeReplyAttribute(a);
    return null;
  } catch (e) {
    if (e instanceof ReplyAttributeError) return { part: e.part, message: e.message };
    throw e;
  }
};

/**
 * The Accept's attributes with the user's: every attribute whose type the user's list names is
 * dropped from `others`, then the user's are appended in their order.
 */
export function withUserAttributes(others: readonly RadiusAttribute[], user: readonly RadiusAttribute[]): RadiusAttribute[] {
  if (user.length === 0) return [...others];
  const replaced = new Set(user.map((a) => a.type));
  return [...others.filter((a) => !replaced.has(a.type)), ...user];
}
