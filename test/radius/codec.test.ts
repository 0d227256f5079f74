import { createHash, createHmac } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import radius from 'radius';
import { describe, expect, it } from 'vitest';
import {
  MAX_ATTRIBUTES,
  RadiusDecodeError,
  RadiusEncodeError,
  RadiusPacket,
  RadiusSecret,
  attribute,
  decodePacket,
  decryptSaltedValue,
  decryptUserPassword,
  encodePacket,
  encryptSaltedValue,
  encryptUserPassword,
  readVendorAttributes,
  serializePacket,
  vendorAttribute,
  vendorSpecific,
  verifyAccountingRequest,
  verifyRequest,
  verifyResponse,
  type RadiusAttribute,
  type RadiusDecodeReason,
  type RadiusEncodeReason,
} from '../../src/doors/radius/codec.ts';
import { ATTRIBUTES, VENDORS } from '../../src/doors/radius/dictionary.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Runs `fn` and returns the reason of the RadiusDecodeError it throws (fails on anything else). */
function decodeReason(fn: () => unknown): RadiusDecodeReason {
  try {
    fn();
  } catch (e) {
    if (e instanceof RadiusDecodeError) return e.reason;
    throw e;
  }
  throw new Error('expected a RadiusDecodeError');
}

function encodeReason(fn: () => unknown): RadiusEncodeReason {
  try {
    fn();
  } catch (e) {
    if (e instanceof RadiusEncodeError) return e.reason;
    throw e;
  }
  throw new Error('expected a RadiusEncodeError');
}

/** A packet from a header and raw attributes: [type, length, ...value] lists, the length octet as given. */
function rawPacket(code: number, attrs: number[][], opts: { length?: number; padding?: number } = {}): Buffer {
  const body = Buffer.from(attrs.flat());
  const buf = Buffer.alloc(20 + body.length + (opts.padding ?? 0));
  buf[0] = code;
  buf[1] = 7;
  buf.writeUInt16BE(opts.length ?? 20 + body.length, 2);
  buf.fill(0xab, 4, 20);
  body.copy(buf, 20);
  return buf;
}

/** Independent RFC 3579 section 3.2 computation: HMAC-MD5 with `authenticator` in the header, the value zeroed. */
function expectedMessageAuthenticator(raw: Buffer, authenticator: Uint8Array, secret: string): Buffer {
  const copy = Buffer.from(raw);
  copy.set(authenticator, 4);
  let at = 20;
  while (at < copy.length) {
    if (copy[at] === 80) copy.fill(0, at + 2, at + 18);
    at += copy[at + 1]!;
  }
  return createHmac('md5', secret).update(copy).digest();
}

/** Independent RFC 2865 section 3 computation of a Response Authenticator. */
function expectedResponseAuthenticator(raw: Buffer, requestAuthenticator: Uint8Array, secret: string): Buffer {
  const copy = Buffer.from(raw);
  copy.set(requestAuthenticator, 4);
  return createHash('md5').update(copy).update(secret).digest();
}

// RFC 2865 section 7.1: User Telnet to Specified Host (shared secret "xyzzy5461").
const RFC_SECRET = 'xyzzy5461';
const RFC_ACCESS_REQUEST = hex(`01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb
  98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be 70 8d 93 d4 13 ce 31 96 e4 3f 78 2a
  0a ee 04 06 c0 a8 01 10 05 06 00 00 00 03`);
const RFC_REQUEST_AUTHENTICATOR = hex('0f 40 3f 94 73 97 80 57 bd 83 d5 cb 98 f4 22 7a');
const RFC_HIDDEN_PASSWORD = hex('0d be 70 8d 93 d4 13 ce 31 96 e4 3f 78 2a 0a ee');
const RFC_ACCESS_ACCEPT = hex(`02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf
  9b 55 e0 b2 06 06 00 00 00 01 0f 06 00 00 00 00 0e 06 c0 a8 01 03`);
// RFC 2865 section 7.2: Framed User Authenticating with CHAP.
const RFC_CHAP_REQUEST = hex(`01 01 00 47 2a ee 86 f0 8d 0d 55 96 9c a5 97 8e
  0d 33 67 a2 01 08 66 6c 6f 70 73 79 03 13 16 e9 75 57 c3 16 18 58 95 f2 93 ff
  63 44 07 72 75 04 06 c0 a8 01 10 05 06 00 00 00 14 06 06 00 00 00 02 07 06 00
  00 00 01`);
// RFC 2865 section 7.3: an Access-Challenge.
const RFC_ACCESS_CHALLENGE = hex(`0b 02 00 4e 36 f3 c8 76 4a e8 c7 11 57 40 3c 0c
  71 ff 9c 45 12 30 43 68 61 6c 6c 65 6e 67 65 20 33 32 37 36 39 34 33 30 2e 20
  20 45 6e 74 65 72 20 72 65 73 70 6f 6e 73 65 20 61 74 20 70 72 6f 6d 70 74 2e
  18 0a 33 32 37 36 39 34 33 30`);

describe('RFC 2865 section 7 examples', () => {
  it('decodes the Access-Request from NAS 192.168.1.16 and reveals the password "arctangent"', () => {
    const p = decodePacket(RFC_ACCESS_REQUEST);
    expect(p.code).toBe('Access-Request');
    expect(p.identifier).toBe(0);
    expect(Buffer.from(p.authenticator)).toEqual(RFC_REQUEST_AUTHENTICATOR);
    expect(p.get('User-Name')).toBe('nemo');
    expect(p.get('NAS-IP-Address')).toBe('192.168.1.16');
    expect(p.get('NAS-Port')).toBe(3);
    expect(Buffer.from(p.get('User-Password')!)).toEqual(RFC_HIDDEN_PASSWORD);
    expect(Buffer.from(decryptUserPassword(p.get('User-Password')!, RFC_SECRET, p.authenticator)).toString()).toBe('arctangent');
    expect(serializePacket(p)).toEqual(RFC_ACCESS_REQUEST);
  });

  it('hides "arctangent" as the RFC shows and encodes the same Access-Request', () => {
    const hidden = encryptUserPassword('arctangent', RFC_SECRET, RFC_REQUEST_AUTHENTICATOR);
    expect(Buffer.from(hidden)).toEqual(RFC_HIDDEN_PASSWORD);
    const request = encodePacket(
      {
        code: 'Access-Request',
        identifier: 0,
        attributes: [attribute('User-Name', 'nemo'), attribute('User-Password', hidden), attribute('NAS-IP-Address', '192.168.1.16'), attribute('NAS-Port', 3)],
      },
      RFC_SECRET,
      RFC_REQUEST_AUTHENTICATOR,
      { messageAuthenticator: false },
    );
    expect(request).toEqual(RFC_ACCESS_REQUEST);
  });

  it('computes the Access-Accept Response Authenticator the RFC gives', () => {
    const accept = encodePacket(
      {
        code: 'Access-Accept',
        identifier: 0,
        attributes: [attribute('Service-Type', 1), attribute('Login-Service', 0), attribute('Login-IP-Host', '192.168.1.3')],
      },
      RFC_SECRET,
      RFC_REQUEST_AUTHENTICATOR,
      { messageAuthenticator: false },
    );
    expect(accept).toEqual(RFC_ACCESS_ACCEPT);
    expect(verifyResponse(RFC_ACCESS_ACCEPT, RFC_REQUEST_AUTHENTICATOR, RFC_SECRET)).toBe('valid');
    expect(verifyResponse(RFC_ACCESS_ACCEPT, RFC_REQUEST_AUTHENTICATOR, 'xyzzy5462')).toBe('invalid');
    const p = decodePacket(RFC_ACCESS_ACCEPT);
    expect([p.code, p.get('Service-Type'), p.get('Login-Service'), p.get('Login-IP-Host')]).toEqual(['Access-Accept', 1, 0, '192.168.1.3']);
  });

  it('decodes the CHAP Access-Request and the Access-Challenge', () => {
    const chap = decodePacket(RFC_CHAP_REQUEST);
    expect(chap.get('User-Name')).toBe('flopsy');
    const chapPassword = chap.get('CHAP-Password')!;
    expect([chapPassword.length, chapPassword[0]]).toEqual([17, 22]);
    expect([chap.get('NAS-Port'), chap.get('Service-Type'), chap.get('Framed-Protocol')]).toEqual([20, 2, 1]);
    expect(serializePacket(chap)).toEqual(RFC_CHAP_REQUEST);

    const challenge = decodePacket(RFC_ACCESS_CHALLENGE);
    expect(challenge.code).toBe('Access-Challenge');
    expect(challenge.get('Reply-Message')).toBe('Challenge 32769430.  Enter response at prompt.');
    expect(Buffer.from(challenge.get('State')!).toString()).toBe('32769430');
    expect(serializePacket(challenge)).toEqual(RFC_ACCESS_CHALLENGE);
  });
});

describe('decodePacket limits', () => {
  const cases: [string, Buffer, RadiusDecodeReason][] = [
    ['19 octets', Buffer.alloc(19, 1), 'too_short'],
    ['an empty datagram', Buffer.alloc(0), 'too_short'],
    ['a 4097-octet datagram', Buffer.concat([rawPacket(1, []), Buffer.alloc(4077)]), 'too_long'],
    ['code 0', rawPacket(0, []), 'unknown_code'],
    ['code 40 (Disconnect-Request)', rawPacket(40, []), 'unknown_code'],
    ['a Length field of 19', rawPacket(1, [], { length: 19 }), 'length_mismatch'],
    ['a Length field past the datagram', rawPacket(1, [[1, 3, 0x61]], { length: 24 }), 'length_mismatch'],
    ['a Length field over 4096', rawPacket(1, [], { length: 4097 }), 'length_mismatch'],
    ['an attribute of length 0', rawPacket(1, [[1, 0]]), 'bad_attribute_length'],
    ['an attribute of length 1', rawPacket(1, [[1, 1]]), 'bad_attribute_length'],
    ['an attribute running past the Length field', rawPacket(1, [[1, 5, 0x61, 0x62]]), 'bad_attribute_length'],
    ['an attribute past the Length field but within the datagram', rawPacket(1, [[1, 4, 0x61, 0x62]], { length: 23 }), 'bad_attribute_length'],
    ['a lone type octet', rawPacket(1, [[1]]), 'bad_attribute_length'],
    [
      'two Message-Authenticators',
      rawPacket(1, [
        [80, 18, ...Buffer.alloc(16)],
        [80, 18, ...Buffer.alloc(16)],
      ]),
      'duplicate_message_authenticator',
    ],
    ['a Message-Authenticator of length 17', rawPacket(1, [[80, 17, ...Buffer.alloc(15)]]), 'bad_message_authenticator_length'],
    ['a Message-Authenticator of length 19', rawPacket(1, [[80, 19, ...Buffer.alloc(17)]]), 'bad_message_authenticator_length'],
    ['an empty Message-Authenticator', rawPacket(1, [[80, 2]]), 'bad_message_authenticator_length'],
    [
      '256 attributes',
      rawPacket(
        1,
        Array.from({ length: 256 }, () => [1, 2]),
      ),
      'too_many_attributes',
    ],
  ];
  it.each(cases)('refuses %s', (_name, buf, reason) => {
    expect(decodeReason(() => decodePacket(buf))).toBe(reason);
  });

  it(`accepts ${MAX_ATTRIBUTES} attributes and a lower limit when told`, () => {
    const buf = rawPacket(
      1,
      Array.from({ length: MAX_ATTRIBUTES }, () => [33, 2]),
    );
    expect(decodePacket(buf).attributes).toHaveLength(MAX_ATTRIBUTES);
    expect(decodeReason(() => decodePacket(buf, { maxAttributes: 10 }))).toBe('too_many_attributes');
  });

  it('accepts exactly 20 and exactly 4096 octets', () => {
    expect(decodePacket(rawPacket(2, [])).attributes).toEqual([]);
    const big = rawPacket(2, [...Array.from({ length: 15 }, () => [26, 255, ...Buffer.alloc(253, 1)]), [25, 251, ...Buffer.alloc(249, 2)]]);
    expect(big.length).toBe(4096);
    expect(decodePacket(big).attributes).toHaveLength(16);
    const over = Buffer.concat([big, Buffer.alloc(1)]);
    over.writeUInt16BE(4097, 2);
    expect(decodeReason(() => decodePacket(over))).toBe('too_long');
  });

  it('ignores octets past the Length field (RFC 2865 section 3)', () => {
    const buf = rawPacket(1, [[1, 6, 0x6e, 0x65, 0x6d, 0x6f]], { padding: 9 });
    buf.fill(0xff, buf.length - 9);
    const p = decodePacket(buf);
    expect(p.get('User-Name')).toBe('nemo');
    expect(serializePacket(p)).toEqual(buf.subarray(0, buf.length - 9));
  });

  it('keeps attribute order, duplicates, empty values and unknown types', () => {
    const buf = rawPacket(1, [
      [33, 3, 1],
      [1, 4, 0x61, 0x62],
      [33, 2],
      [200, 4, 9, 9],
      [33, 4, 2, 3],
    ]);
    const p = decodePacket(buf);
    expect(p.attributes.map((a) => a.type)).toEqual([33, 1, 33, 200, 33]);
    expect(p.getAll('Proxy-State').map((v) => [...v])).toEqual([[1], [], [2, 3]]);
    expect(p.count('Proxy-State')).toBe(3);
    expect(p.raw(200).map((v) => [...v])).toEqual([[9, 9]]);
    expect(p.has(200)).toBe(true);
    expect(p.has('State')).toBe(false);
  });

  it('copies the datagram: reusing the buffer afterwards does not change the packet', () => {
    const buf = Buffer.from(RFC_ACCESS_REQUEST);
    const p = decodePacket(buf);
    buf.fill(0);
    expect(p.get('User-Name')).toBe('nemo');
  });
});

describe('typed accessors', () => {
  it('reads every data type', () => {
    const when = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    const p = decodePacket(
      encodePacket(
        {
          code: 'Accounting-Request',
          identifier: 9,
          attributes: [
            attribute('Acct-Status-Type', 1),
            attribute('Acct-Session-Id', 'sess-é-1'),
            attribute('Event-Timestamp', when),
            attribute('NAS-IPv6-Address', '2001:db8:0:0:0:0:0:1'),
            attribute('Framed-IP-Address', '10.1.2.3'),
            attribute('Class', new Uint8Array([0, 1, 2])),
            attribute('Acct-Input-Octets', 0xffffffff),
          ],
        },
        'secret',
      ),
    );
    expect(p.get('Acct-Status-Type')).toBe(1);
    expect(p.get('Acct-Session-Id')).toBe('sess-é-1');
    expect(p.get('Event-Timestamp')).toEqual(when);
    expect(p.get('NAS-IPv6-Address')).toBe('2001:db8::1');
    expect(p.get('Framed-IP-Address')).toBe('10.1.2.3');
    expect([...p.get('Class')!]).toEqual([0, 1, 2]);
    expect(p.get('Acct-Input-Octets')).toBe(0xffffffff);
    expect(p.get('User-Name')).toBeUndefined();
    expect(p.getAll('User-Name')).toEqual([]);
  });

  it('skips invalid attributes (RFC 6929 section 2.8) but keeps their octets', () => {
    const p = decodePacket(
      rawPacket(1, [
        [5, 5, 0, 0, 1], // NAS-Port of 3 octets
        [5, 6, 0, 0, 0, 7],
        [1, 3, 0xff], // User-Name that is not UTF-8
        [1, 4, 0x6f, 0x6b],
        [4, 3, 1], // NAS-IP-Address of 1 octet
        [95, 6, 1, 2, 3, 4], // NAS-IPv6-Address of 4 octets
        [26, 6, 1, 0, 0, 1], // Vendor-Specific with a vendor id above 2^24
      ]),
    );
    expect(p.get('NAS-Port')).toBe(7);
    expect(p.getAll('NAS-Port')).toEqual([7]);
    expect(p.get('User-Name')).toBe('ok');
    expect(p.count('User-Name')).toBe(2);
    expect(p.get('NAS-IP-Address')).toBeUndefined();
    expect(p.get('NAS-IPv6-Address')).toBeUndefined();
    expect(p.get('Vendor-Specific')).toBeUndefined();
    expect(p.attributes).toHaveLength(7);
  });

  it('reads Microsoft vendor attributes from standard-format Vendor-Specific attributes', () => {
    const challenge = new Uint8Array(16).fill(7);
    const p = decodePacket(
      encodePacket(
        {
          code: 'Access-Request',
          identifier: 1,
          attributes: [
            attribute('User-Name', 'bob'),
            vendorSpecific(VENDORS.Microsoft, [
              { type: 11, value: challenge },
              { type: 25, value: new Uint8Array(50).fill(2) },
            ]),
            vendorAttribute('MS-MPPE-Encryption-Policy', 2),
            vendorSpecific(9, [{ type: 1, value: new TextEncoder().encode('shell:priv-lvl=15') }]),
            { type: 26, value: new Uint8Array([0, 0, 1, 0x37, 0xff]) }, // Microsoft, not standard format
          ],
        },
        'secret',
      ),
    );
    expect(p.getVendor('MS-CHAP-Challenge')).toEqual(challenge);
    expect(p.getVendor('MS-CHAP2-Response')?.length).toBe(50);
    expect(p.getVendor('MS-MPPE-Encryption-Policy')).toBe(2);
    expect(p.getVendor('MS-CHAP2-Success')).toBeUndefined();
    expect(p.vendorAttributes(VENDORS.Microsoft).map((s) => s.type)).toEqual([11, 25, 7]);
    expect(p.getAll('Vendor-Specific').map((v) => v.vendorId)).toEqual([311, 311, 9, 311]);
    expect(new TextDecoder().decode(p.vendorAttributes(9)[0]!.value)).toBe('shell:priv-lvl=15');
  });

  it('reads vendor data in the standard format only', () => {
    expect(readVendorAttributes(new Uint8Array([1, 3, 9, 2, 2]))).toEqual([
      { type: 1, value: new Uint8Array([9]) },
      { type: 2, value: new Uint8Array([]) },
    ]);
    expect(readVendorAttributes(new Uint8Array([1, 4, 9]))).toBeUndefined();
    expect(readVendorAttributes(new Uint8Array([1, 1, 9]))).toBeUndefined();
    expect(readVendorAttributes(new Uint8Array([1]))).toBeUndefined();
  });

  it('lists the attributes the RADIUS door relies on with their RFC numbers', () => {
    const numbers = Object.fromEntries(Object.entries(ATTRIBUTES).map(([name, spec]) => [name, spec.type]));
    expect(numbers).toMatchObject({
      'User-Name': 1,
      'User-Password': 2,
      'CHAP-Password': 3,
      'NAS-IP-Address': 4,
      'Framed-IP-Address': 8,
      'Filter-Id': 11,
      'Reply-Message': 18,
      State: 24,
      Class: 25,
      'Vendor-Specific': 26,
      'Called-Station-Id': 30,
      'Calling-Station-Id': 31,
      'NAS-Identifier': 32,
      'Proxy-State': 33,
      'Acct-Status-Type': 40,
      'Acct-Session-Id': 44,
      'EAP-Message': 79,
      'Message-Authenticator': 80,
      'NAS-IPv6-Address': 95,
    });
  });
});

describe('encodePacket', () => {
  const secret = 'a shared secret';
  const requestAuthenticator = hex('00112233445566778899aabbccddeeff');

  it.each(['Access-Accept', 'Access-Reject', 'Access-Challenge'] as const)(
    'puts the Message-Authenticator first in an %s and both authenticators verify independently',
    (code) => {
      const out = encodePacket(
        {
          code,
          identifier: 42,
          attributes: [attribute('Reply-Message', 'hello'), attribute('Proxy-State', new Uint8Array([1, 2])), attribute('State', new Uint8Array([3]))],
        },
        secret,
        requestAuthenticator,
      );
      expect([out[20], out[21]]).toEqual([80, 18]);
      expect(out.subarray(22, 38)).toEqual(expectedMessageAuthenticator(out, requestAuthenticator, secret));
      expect(out.subarray(4, 20)).toEqual(expectedResponseAuthenticator(out, requestAuthenticator, secret));
      expect(verifyResponse(out, requestAuthenticator, secret, { requireMessageAuthenticator: true })).toBe('valid');
      const p = decodePacket(out);
      expect(p.attributes.map((a) => a.type)).toEqual([80, 18, 33, 24]);
    },
  );

  it('moves a Message-Authenticator given among the attributes to the front and recomputes it', () => {
    const out = encodePacket(
      { code: 'Access-Accept', identifier: 1, attributes: [attribute('Reply-Message', 'x'), attribute('Message-Authenticator', new Uint8Array(16).fill(9))] },
      secret,
      requestAuthenticator,
    );
    expect(decodePacket(out).attributes.map((a) => a.type)).toEqual([80, 18]);
    expect(out.subarray(22, 38)).toEqual(expectedMessageAuthenticator(out, requestAuthenticator, secret));
  });

  it('leaves the Message-Authenticator out when told', () => {
    const given = [attribute('Message-Authenticator', new Uint8Array(16)), attribute('Reply-Message', 'x')];
    const out = encodePacket({ code: 'Access-Reject', identifier: 1, attributes: given }, secret, requestAuthenticator, { messageAuthenticator: false });
    expect(decodePacket(out).attributes.map((a) => a.type)).toEqual([18]);
    expect(verifyResponse(out, requestAuthenticator, secret)).toBe('valid');
    expect(verifyResponse(out, requestAuthenticator, secret, { requireMessageAuthenticator: true })).toBe('missing');
  });

  it('signs an Access-Request with a random Request Authenticator and a Message-Authenticator', () => {
    const fields = { code: 'Access-Request' as const, identifier: 3, attributes: [attribute('User-Name', 'alice')] };
    const a = encodePacket(fields, secret);
    const b = encodePacket(fields, secret);
    expect(a.subarray(4, 20)).not.toEqual(b.subarray(4, 20));
    expect(a.subarray(22, 38)).toEqual(expectedMessageAuthenticator(a, a.subarray(4, 20), secret));
    expect(verifyRequest(decodePacket(a), a, secret)).toBe('valid');
  });

  it('signs an Accounting-Request and an Accounting-Response (RFC 2866)', () => {
    const request = encodePacket(
      { code: 'Accounting-Request', identifier: 5, attributes: [attribute('Acct-Status-Type', 1), attribute('Acct-Session-Id', 's1')] },
      secret,
    );
    const zeroed = Buffer.from(request).fill(0, 4, 20);
    expect(request.subarray(4, 20)).toEqual(createHash('md5').update(zeroed).update(secret).digest());
    expect(request.includes(80)).toBe(false);
    expect(verifyAccountingRequest(request, secret)).toBe('valid');
    expect(verifyRequest(decodePacket(request), request, secret)).toBe('valid');

    const response = encodePacket({ code: 'Accounting-Response', identifier: 5, attributes: [] }, secret, request.subarray(4, 20));
    expect(response.length).toBe(20);
    expect(response.subarray(4, 20)).toEqual(expectedResponseAuthenticator(response, request.subarray(4, 20), secret));
    expect(verifyResponse(response, request.subarray(4, 20), secret)).toBe('valid');
  });

  it('signs an Accounting-Request with a Message-Authenticator computed over a zero authenticator', () => {
    const request = encodePacket({ code: 'Accounting-Request', identifier: 5, attributes: [attribute('Acct-Status-Type', 2)] }, secret, undefined, {
      messageAuthenticator: true,
    });
    expect(request[20]).toBe(80);
    expect(request.subarray(22, 38)).toEqual(expectedMessageAuthenticator(request, new Uint8Array(16), secret));
    expect(verifyAccountingRequest(request, secret)).toBe('valid');
    const tampered = Buffer.from(request);
    tampered[25] = tampered[25]! ^ 1;
    expect(verifyAccountingRequest(tampered, secret)).toBe('invalid');
  });

  it('refuses what RADIUS cannot carry', () => {
    const fields = (attributes: RadiusAttribute[]) => ({ code: 'Access-Accept' as const, identifier: 1, attributes });
    expect(encodeReason(() => attribute('Reply-Message', 'x'.repeat(254)))).toBe('attribute_too_long');
    expect(attribute('Reply-Message', 'x'.repeat(253)).value.length).toBe(253);
    expect(encodeReason(() => encodePacket(fields([{ type: 18, value: new Uint8Array(254) }]), secret, requestAuthenticator))).toBe('attribute_too_long');
    const full = [...Array.from({ length: 15 }, () => ({ type: 25, value: new Uint8Array(253) })), { type: 25, value: new Uint8Array(233) }];
    expect(encodeReason(() => encodePacket(fields(full), secret, requestAuthenticator))).toBe('packet_too_long');
    expect(encodePacket(fields(full), secret, requestAuthenticator, { messageAuthenticator: false }).length).toBe(4080);
    expect(
      encodeReason(() =>
        encodePacket(fields([...full, { type: 25, value: new Uint8Array(15) }]), secret, requestAuthenticator, { messageAuthenticator: false }),
      ),
    ).toBe('packet_too_long');
    const many = Array.from({ length: 255 }, () => ({ type: 33, value: new Uint8Array(0) }));
    expect(encodeReason(() => encodePacket(fields(many), secret, requestAuthenticator))).toBe('too_many_attributes');
    expect(encodeReason(() => encodePacket(fields([{ type: 256, value: new Uint8Array(1) }]), secret, requestAuthenticator))).toBe('bad_attribute_type');
    expect(encodeReason(() => encodePacket({ ...fields([]), identifier: 256 }, secret, requestAuthenticator))).toBe('bad_identifier');
    expect(encodeReason(() => encodePacket(fields([]), secret))).toBe('authenticator_required');
    expect(encodeReason(() => encodePacket(fields([]), secret, new Uint8Array(15)))).toBe('bad_authenticator');
    const hidden = encryptUserPassword('pw', secret, requestAuthenticator);
    expect(encodeReason(() => encodePacket({ code: 'Access-Request', identifier: 1, attributes: [attribute('User-Password', hidden)] }, secret))).toBe(
      'authenticator_required',
    );
  });

  it('refuses values that do not fit their data type', () => {
    expect(encodeReason(() => attribute('NAS-Port', -1))).toBe('bad_value');
    expect(encodeReason(() => attribute('NAS-Port', 2 ** 32))).toBe('bad_value');
    expect(encodeReason(() => attribute('NAS-Port', 1.5))).toBe('bad_value');
    expect(encodeReason(() => attribute('NAS-IP-Address', '10.0.0'))).toBe('bad_value');
    expect(encodeReason(() => attribute('NAS-IP-Address', '::1'))).toBe('bad_value');
    expect(encodeReason(() => attribute('NAS-IPv6-Address', '10.0.0.1'))).toBe('bad_value');
    expect(encodeReason(() => attribute('NAS-IPv6-Address', 'fe80::1%eth0'))).toBe('bad_value');
    expect(encodeReason(() => attribute('Event-Timestamp', new Date(Number.NaN)))).toBe('bad_value');
    expect(encodeReason(() => attribute('Event-Timestamp', new Date(-1000)))).toBe('bad_value');
    expect(encodeReason(() => vendorSpecific(2 ** 24, [{ type: 1, value: new Uint8Array(1) }]))).toBe('bad_value');
    expect(encodeReason(() => vendorSpecific(311, []))).toBe('bad_value');
    expect(encodeReason(() => vendorSpecific(311, [{ type: 1, value: new Uint8Array(248) }]))).toBe('attribute_too_long');
  });

  it('accepts shared secrets of 1 to 128 octets only', () => {
    const ok = (s: string | Uint8Array) => encodePacket({ code: 'Access-Request', identifier: 1, attributes: [] }, s);
    expect(ok('x').length).toBe(38);
    expect(ok('x'.repeat(128)).length).toBe(38);
    expect(ok(new RadiusSecret('é'.repeat(64)).bytes).length).toBe(38);
    expect(encodeReason(() => ok(''))).toBe('bad_secret');
    expect(encodeReason(() => ok('x'.repeat(129)))).toBe('bad_secret');
    expect(encodeReason(() => new RadiusSecret('é'.repeat(65)))).toBe('bad_secret');
    expect(encodeReason(() => verifyAccountingRequest(RFC_ACCESS_REQUEST, ''))).toBe('bad_secret');
    expect(encodeReason(() => decryptUserPassword(RFC_HIDDEN_PASSWORD, '', RFC_REQUEST_AUTHENTICATOR))).toBe('bad_secret');
  });

  it('serializes a packet unchanged, and decodes it back equal', () => {
    const p = new RadiusPacket({
      code: 'Status-Server',
      identifier: 200,
      authenticator: new Uint8Array(requestAuthenticator),
      attributes: [{ type: 0, value: new Uint8Array([1]) }],
    });
    expect(decodePacket(serializePacket(p))).toEqual(p);
  });
});

describe('verifyRequest', () => {
  const secret = new RadiusSecret('s3cr3t-for-the-vpn');
  const request = encodePacket(
    { code: 'Access-Request', identifier: 17, attributes: [attribute('User-Name', 'carol'), attribute('EAP-Message', new Uint8Array([2, 1, 0, 4]))] },
    secret,
  );

  it('accepts a valid Message-Authenticator wherever it stands', () => {
    expect(verifyRequest(decodePacket(request), request, secret)).toBe('valid');
    // The same request with its Message-Authenticator last, signed independently.
    const last = rawPacket(1, [
      [1, 7, ...Buffer.from('carol')],
      [80, 18, ...Buffer.alloc(16)],
    ]);
    last.set(expectedMessageAuthenticator(last, last.subarray(4, 20), 's3cr3t-for-the-vpn'), last.length - 16);
    expect(verifyRequest(decodePacket(last), last, secret)).toBe('valid');
  });

  it('says missing without one and invalid for a wrong secret or a changed octet', () => {
    const without = encodePacket({ code: 'Access-Request', identifier: 1, attributes: [attribute('User-Name', 'carol')] }, secret, undefined, {
      messageAuthenticator: false,
    });
    expect(verifyRequest(decodePacket(without), without, secret)).toBe('missing');
    expect(verifyRequest(decodePacket(request), request, 'another secret')).toBe('invalid');
    for (const at of [1, 5, 19, 24, 30, request.length - 1]) {
      const changed = Buffer.from(request);
      changed[at] = changed[at]! ^ 0x40;
      expect(verifyRequest(decodePacket(changed), changed, secret)).toBe('invalid');
    }
  });

  it('says invalid when the octets do not hold the packet, or the packet is a response', () => {
    const other = encodePacket({ code: 'Access-Request', identifier: 18, attributes: [] }, secret);
    expect(verifyRequest(decodePacket(request), other, secret)).toBe('invalid');
    const accept = encodePacket({ code: 'Access-Accept', identifier: 17, attributes: [] }, secret, request.subarray(4, 20));
    expect(verifyRequest(decodePacket(accept), accept, secret)).toBe('invalid');
    expect(decodeReason(() => verifyRequest(decodePacket(request), request.subarray(0, 10), secret))).toBe('too_short');
  });

  it('checks a Status-Server request (RFC 5997)', () => {
    const status = encodePacket({ code: 'Status-Server', identifier: 2, attributes: [] }, secret);
    expect(status[20]).toBe(80);
    expect(verifyRequest(decodePacket(status), status, secret)).toBe('valid');
  });

  it('checks an Accounting-Request with a wrong secret as invalid', () => {
    const acct = encodePacket({ code: 'Accounting-Request', identifier: 2, attributes: [attribute('Acct-Status-Type', 3)] }, secret);
    expect(verifyAccountingRequest(acct, 'wrong')).toBe('invalid');
    expect(verifyAccountingRequest(request, secret)).toBe('invalid');
  });
});

describe('verifyResponse', () => {
  const secret = 'upstream secret';
  const requestAuthenticator = hex('ffeeddccbbaa99887766554433221100');
  const accept = encodePacket(
    { code: 'Access-Accept', identifier: 4, attributes: [attribute('Class', new Uint8Array([1, 2, 3]))] },
    secret,
    requestAuthenticator,
  );

  it('refuses a changed octet, another request, a request code and a changed Message-Authenticator', () => {
    expect(verifyResponse(accept, requestAuthenticator, secret)).toBe('valid');
    for (const at of [0, 1, 4, 22, accept.length - 1]) {
      const changed = Buffer.from(accept);
      changed[at] = changed[at]! ^ (at === 0 ? 1 : 0x80); // code 2 -> 3 (Access-Reject)
      expect(verifyResponse(changed, requestAuthenticator, secret)).toBe('invalid');
    }
    expect(verifyResponse(accept, new Uint8Array(16), secret)).toBe('invalid');
    const request = encodePacket({ code: 'Access-Request', identifier: 4, attributes: [] }, secret, requestAuthenticator);
    expect(verifyResponse(request, requestAuthenticator, secret)).toBe('invalid');
  });

  it('refuses a response whose Response Authenticator is right but Message-Authenticator wrong', () => {
    const forged = Buffer.from(accept);
    forged.fill(0x11, 22, 38);
    forged.set(expectedResponseAuthenticator(forged, requestAuthenticator, secret), 4);
    expect(verifyResponse(forged, requestAuthenticator, secret)).toBe('invalid');
  });
});

describe('User-Password hiding (RFC 2865 section 5.2)', () => {
  const secret = 'hide-and-seek';
  const ra = hex('0102030405060708090a0b0c0d0e0f10');

  it('round-trips every length from 0 to 128 octets', () => {
    for (let n = 0; n <= 128; n++) {
      const password = Buffer.alloc(n, 'p');
      const hidden = encryptUserPassword(password, secret, ra);
      expect(hidden.length).toBe(Math.max(16, Math.ceil(n / 16) * 16));
      expect(Buffer.from(decryptUserPassword(hidden, secret, ra))).toEqual(password);
    }
  });

  it('chains the blocks on the ciphertext', () => {
    const password = Buffer.from('a password longer than sixteen octets');
    const hidden = encryptUserPassword(password, secret, ra);
    const padded = Buffer.alloc(48);
    password.copy(padded);
    let previous: Buffer = ra;
    for (let at = 0; at < 48; at += 16) {
      const b = createHash('md5').update(secret).update(previous).digest();
      const c = Buffer.from(padded.subarray(at, at + 16).map((x, i) => x ^ b[i]!));
      expect(Buffer.from(hidden.subarray(at, at + 16))).toEqual(c);
      previous = c;
    }
  });

  it('strips trailing NULs only', () => {
    const hidden = encryptUserPassword(Buffer.from([0, 0x61, 0, 0x62, 0, 0]), secret, ra);
    expect([...decryptUserPassword(hidden, secret, ra)]).toEqual([0, 0x61, 0, 0x62]);
  });

  it('refuses malformed lengths', () => {
    expect(encodeReason(() => encryptUserPassword('x'.repeat(129), secret, ra))).toBe('password_too_long');
    for (const n of [0, 1, 15, 17, 31, 144, 240]) {
      expect(decodeReason(() => decryptUserPassword(new Uint8Array(n), secret, ra))).toBe('bad_password_length');
    }
  });
});

describe('salt encryption (RFC 2548 section 2.4.2, MS-MPPE keys)', () => {
  const secret = 'mppe';
  const ra = hex('a0a1a2a3a4a5a6a7a8a9aaabacadaeaf');

  it('matches an independent computation and round-trips', () => {
    const key = Buffer.alloc(32, 0x5a);
    const out = encryptSaltedValue(key, secret, ra, new Uint8Array([0x01, 0x02]));
    expect([out[0], out[1]]).toEqual([0x81, 0x02]);
    const plain = Buffer.alloc(48);
    plain[0] = 32;
    key.copy(plain, 1);
    let previous = Buffer.concat([ra, Buffer.from([0x81, 0x02])]);
    for (let at = 0; at < 48; at += 16) {
      const b = createHash('md5').update(secret).update(previous).digest();
      const c = Buffer.from(plain.subarray(at, at + 16).map((x, i) => x ^ b[i]!));
      expect(Buffer.from(out.subarray(2 + at, 2 + at + 16))).toEqual(c);
      previous = c;
    }
    expect(Buffer.from(decryptSaltedValue(out, secret, ra))).toEqual(key);
    const random = encryptSaltedValue(key, secret, ra);
    expect(random[0]! & 0x80).toBe(0x80);
    expect(Buffer.from(decryptSaltedValue(random, secret, ra))).toEqual(key);
  });

  it('refuses malformed values', () => {
    expect(decodeReason(() => decryptSaltedValue(new Uint8Array(17).fill(0x80), secret, ra))).toBe('bad_salted_value');
    expect(decodeReason(() => decryptSaltedValue(new Uint8Array(19).fill(0x80), secret, ra))).toBe('bad_salted_value');
    expect(decodeReason(() => decryptSaltedValue(new Uint8Array(18), secret, ra))).toBe('bad_salted_value');
    // A hidden length octet larger than what follows it.
    const out = encryptSaltedValue(new Uint8Array(15), secret, ra);
    const tampered = Uint8Array.from(out);
    tampered[2] = tampered[2]! ^ 0xf0;
    expect(decodeReason(() => decryptSaltedValue(tampered, secret, ra))).toBe('bad_salted_value');
  });
});

describe('interoperability with the radius package', () => {
  radius.add_dictionary(fileURLToPath(new URL('./dictionary.microsoft', import.meta.url)));
  const secret = 'interop-secret';
  const password = 'a long password: over sixteen octets, ünïcode';

  it('decodes and verifies an Access-Request the radius package encodes', () => {
    const raw = radius.encode({
      code: 'Access-Request',
      secret,
      identifier: 99,
      attributes: [
        ['User-Name', 'dave'],
        ['User-Password', password],
        ['NAS-IP-Address', '10.20.30.40'],
        ['NAS-Port', 12],
        ['Vendor-Specific', 311, [['MS-CHAP-Challenge', Buffer.alloc(16, 3)]]],
      ],
      add_message_authenticator: true,
    });
    const p = decodePacket(raw);
    expect([p.code, p.identifier, p.get('User-Name'), p.get('NAS-IP-Address'), p.get('NAS-Port')]).toEqual(['Access-Request', 99, 'dave', '10.20.30.40', 12]);
    expect(Buffer.from(decryptUserPassword(p.get('User-Password')!, secret, p.authenticator)).toString()).toBe(password);
    expect(p.getVendor('MS-CHAP-Challenge')).toEqual(new Uint8Array(16).fill(3));
    expect(verifyRequest(p, raw, secret)).toBe('valid');
    expect(verifyRequest(p, raw, 'not-the-secret')).toBe('invalid');
    expect(serializePacket(p)).toEqual(raw);
  });

  it('encodes an Access-Request the radius package decodes and verifies', () => {
    const ra = hex('31323334353637383930616263646566');
    const raw = encodePacket(
      {
        code: 'Access-Request',
        identifier: 3,
        attributes: [
          attribute('User-Name', 'erin'),
          attribute('User-Password', encryptUserPassword(password, secret, ra)),
          attribute('NAS-Identifier', 'vpn-1'),
          attribute('Event-Timestamp', new Date(1_700_000_000_000)),
          vendorAttribute('MS-CHAP2-Response', new Uint8Array(50).fill(4)),
        ],
      },
      secret,
      ra,
    );
    // radius.decode checks the Message-Authenticator of a request and throws when it does not match.
    const decoded = radius.decode({ packet: raw, secret });
    expect(decoded.code).toBe('Access-Request');
    expect(decoded.attributes).toMatchObject({
      'User-Name': 'erin',
      'User-Password': password,
      'NAS-Identifier': 'vpn-1',
      'Event-Timestamp': new Date(1_700_000_000_000),
      'Vendor-Specific': { 'MS-CHAP2-Response': Buffer.alloc(50, 4) },
    });
    expect(decoded.raw_attributes.map(([type]) => type as number)).toContain(80);
    expect(() => radius.decode({ packet: raw, secret: 'not-the-secret' })).toThrow();
  });

  it('verifies the responses the radius package encodes (Message-Authenticator last)', () => {
    const request = encodePacket({ code: 'Access-Request', identifier: 8, attributes: [attribute('User-Name', 'frank')] }, secret);
    const decodedRequest = radius.decode({ packet: request, secret });
    const response = radius.encode_response({
      packet: decodedRequest,
      code: 'Access-Challenge',
      secret,
      attributes: [
        ['Reply-Message', 'Enter your code'],
        ['State', Buffer.from('st-1')],
      ],
    });
    const p = decodePacket(response);
    expect(p.attributes.at(-1)?.type).toBe(80);
    expect([p.code, p.get('Reply-Message'), Buffer.from(p.get('State')!).toString()]).toEqual(['Access-Challenge', 'Enter your code', 'st-1']);
    expect(verifyResponse(response, request.subarray(4, 20), secret, { requireMessageAuthenticator: true })).toBe('valid');
    expect(verifyResponse(response, request.subarray(4, 20), 'not-the-secret')).toBe('invalid');
  });

  it('encodes responses the radius package verifies', () => {
    const request = radius.encode({ code: 'Access-Request', secret, identifier: 77, attributes: [['User-Name', 'grace']], add_message_authenticator: true });
    for (const code of ['Access-Accept', 'Access-Reject', 'Access-Challenge'] as const) {
      const response = encodePacket(
        {
          code,
          identifier: 77,
          attributes: [attribute('Reply-Message', 'ok'), attribute('Filter-Id', 'vpn-users'), vendorAttribute('MS-CHAP2-Success', new Uint8Array(42).fill(1))],
        },
        secret,
        request.subarray(4, 20),
      );
      // verify_response checks the Response Authenticator and, when the request had one, the Message-Authenticator.
      expect(radius.verify_response({ request, response, secret })).toBe(true);
      expect(radius.verify_response({ request, response, secret: 'not-the-secret' })).toBe(false);
      expect(radius.decode({ packet: response, secret }).attributes).toMatchObject({
        'Reply-Message': 'ok',
        'Filter-Id': 'vpn-users',
        'Vendor-Specific': { 'MS-CHAP2-Success': Buffer.alloc(42, 1) },
      });
    }
  });

  it('exchanges Accounting-Requests both ways', () => {
    const theirs = radius.encode({
      code: 'Accounting-Request',
      secret,
      identifier: 12,
      attributes: [
        ['Acct-Status-Type', 'Start'],
        ['Acct-Session-Id', 'abc'],
        ['User-Name', 'heidi'],
      ],
    });
    expect(verifyAccountingRequest(theirs, secret)).toBe('valid');
    expect(verifyAccountingRequest(theirs, 'not-the-secret')).toBe('invalid');
    expect(decodePacket(theirs).get('Acct-Status-Type')).toBe(1);

    const ours = encodePacket(
      { code: 'Accounting-Request', identifier: 13, attributes: [attribute('Acct-Status-Type', 2), attribute('Acct-Session-Time', 3600)] },
      secret,
    );
    // radius.decode checks an Accounting-Request's authenticator and throws when it does not match.
    expect(radius.decode({ packet: ours, secret }).attributes).toMatchObject({ 'Acct-Status-Type': 'Stop', 'Acct-Session-Time': 3600 });
    expect(() => radius.decode({ packet: ours, secret: 'not-the-secret' })).toThrow();
  });
});
