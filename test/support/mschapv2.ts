/**
 * MS-CHAPv2 as a NAS computes it (RFC 2759), to build the MS-CHAP-Challenge and MS-CHAP2-Response
 * attributes (RFC 2548) that radclient cannot generate itself (its MS-CHAP-Password support is
 * MS-CHAPv1 only), and to check the MS-CHAP2-Success a server returns.
 *
 * Node's OpenSSL 3 has neither MD4 nor single DES (both live in the legacy provider), so MD4 is
 * written out here from RFC 1320, and DES runs as two-key triple DES with both keys equal
 * (E_K(D_K(E_K(x))) = E_K(x)).
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';

/** MD4 (RFC 1320). Test code only: used for the NT password hash. */
export function md4(input: Uint8Array): Buffer {
  const bitLength = input.length * 8;
  const padded = Buffer.alloc((((input.length + 8) >> 6) + 1) * 64);
  padded.set(input);
  padded[input.length] = 0x80;
  padded.writeUInt32LE(bitLength >>> 0, padded.length - 8);
  padded.writeUInt32LE(Math.floor(bitLength / 2 ** 32), padded.length - 4);

  const rotl = (x: number, s: number): number => (x << s) | (x >>> (32 - s));
  const f = (x: number, y: number, z: number): number => (x & y) | (~x & z);
  const g = (x: number, y: number, z: number): number => (x & y) | (x & z) | (y & z);
  const h = (x: number, y: number, z: number): number => x ^ y ^ z;
  const rounds: { fn: (x: number, y: number, z: number) => number; k: number; order: number[]; shifts: number[] }[] = [
    { fn: f, k: 0, order: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], shifts: [3, 7, 11, 19] },
    { fn: g, k: 0x5a827999, order: [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15], shifts: [3, 5, 9, 13] },
    { fn: h, k: 0x6ed9eba1, order: [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15], shifts: [3, 9, 11, 15] },
  ];

  const state = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  const x = new Array<number>(16);
  for (let block = 0; block < padded.length; block += 64) {
    for (let i = 0; i < 16; i++) x[i] = padded.readUInt32LE(block + i * 4);
    // r holds a, b, c, d; each step updates r[0] then rotates so the next register comes first.
    let r = [...state];
    for (const round of rounds) {
      for (let step = 0; step < 16; step++) {
        const [a, b, c, d] = r as [number, number, number, number];
        const updated = rotl((a + round.fn(b, c, d) + (x[round.order[step]!] as number) + round.k) | 0, round.shifts[step % 4]!);
        r = [d, updated, b, c];
      }
    }
    for (let i = 0; i < 4; i++) state[i] = (state[i]! + r[i]!) | 0;
  }
  const out = Buffer.alloc(16);
  state.forEach((v, i) => out.writeInt32LE(v, i * 4));
  return out;
}

/** NtPasswordHash: MD4 of the password in UTF-16LE. */
export function ntPasswordHash(password: string): Buffer {
  return md4(Buffer.from(password, 'utf16le'));
}

/** Spreads 7 key bytes over the 8 bytes of a DES key (the low bit of each byte is parity, ignored). */
function desKey(seven: Uint8Array): Buffer {
  const key = Buffer.alloc(8);
  key[0] = seven[0]! & 0xfe;
  for (let i = 1; i < 7; i++) key[i] = ((seven[i - 1]! << (8 - i)) | (seven[i]! >> i)) & 0xfe;
  key[7] = (seven[6]! << 1) & 0xfe;
  return key;
}

function desEncrypt(seven: Uint8Array, block: Uint8Array): Buffer {
  const key = desKey(seven);
  const cipher = createCipheriv('des-ede-ecb', Buffer.concat([key, key]), null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(block), cipher.final()]);
}

/** ChallengeResponse: the 8-byte challenge encrypted under the 16-byte hash, zero-padded to 21. */
export function challengeResponse(challenge: Uint8Array, passwordHash: Uint8Array): Buffer {
  const z = Buffer.alloc(21);
  z.set(passwordHash);
  return Buffer.concat([desEncrypt(z.subarray(0, 7), challenge), desEncrypt(z.subarray(7, 14), challenge), desEncrypt(z.subarray(14, 21), challenge)]);
}

/** ChallengeHash: the first 8 bytes of SHA1(peer challenge, authenticator challenge, user name). */
export function challengeHash(peerChallenge: Uint8Array, authenticatorChallenge: Uint8Array, username: string): Buffer {
  return createHash('sha1').update(peerChallenge).update(authenticatorChallenge).update(username, 'utf8').digest().subarray(0, 8);
}

export function generateNtResponse(authenticatorChallenge: Uint8Array, peerChallenge: Uint8Array, username: string, password: string): Buffer {
  return challengeResponse(challengeHash(peerChallenge, authenticatorChallenge, username), ntPasswordHash(password));
}

const MAGIC1 = Buffer.from('Magic server to client signing constant', 'ascii');
const MAGIC2 = Buffer.from('Pad to make it do more than one iteration', 'ascii');

/** GenerateAuthenticatorResponse: "S=" and 40 upper-case hex digits, as the server must send back. */
export function authenticatorResponse(
  password: string,
  ntResponse: Uint8Array,
  peerChallenge: Uint8Array,
  authenticatorChallenge: Uint8Array,
  username: string,
): string {
  const hashHash = md4(ntPasswordHash(password));
  const digest = createHash('sha1').update(hashHash).update(ntResponse).update(MAGIC1).digest();
  const final = createHash('sha1')
    .update(digest)
    .update(challengeHash(peerChallenge, authenticatorChallenge, username))
    .update(MAGIC2)
    .digest();
  return `S=${final.toString('hex').toUpperCase()}`;
}

export interface MsChapV2Request {
  /** MS-CHAP-Challenge and MS-CHAP2-Response, ready for radclient (octets as 0x hex). */
  attributes: [string, string][];
  ident: number;
  authenticatorChallenge: Buffer;
  peerChallenge: Buffer;
  ntResponse: Buffer;
  /** What a correct server puts after the ident byte of MS-CHAP2-Success. */
  expectedSuccess: string;
}

/**
 * The attributes a NAS sends for an MS-CHAPv2 login (User-Name is not included). Challenges are
 * random unless given (the RFC 2759 test vectors give both).
 */
export function msChapV2Request(
  username: string,
  password: string,
  opts: { authenticatorChallenge?: Uint8Array; peerChallenge?: Uint8Array; ident?: number } = {},
): MsChapV2Request {
  const authenticatorChallenge = Buffer.from(opts.authenticatorChallenge ?? randomBytes(16));
  const peerChallenge = Buffer.from(opts.peerChallenge ?? randomBytes(16));
  const ident = opts.ident ?? randomBytes(1)[0]!;
  const ntResponse = generateNtResponse(authenticatorChallenge, peerChallenge, username, password);
  const response = Buffer.concat([Buffer.from([ident, 0]), peerChallenge, Buffer.alloc(8), ntResponse]);
  return {
    attributes: [
      ['MS-CHAP-Challenge', `0x${authenticatorChallenge.toString('hex')}`],
      ['MS-CHAP2-Response', `0x${response.toString('hex')}`],
    ],
    ident,
    authenticatorChallenge,
    peerChallenge,
    ntResponse,
    expectedSuccess: authenticatorResponse(password, ntResponse, peerChallenge, authenticatorChallenge, username),
  };
}

/**
 * Checks an MS-CHAP2-Success value as radclient prints it (0x hex of ident + "S=..."): the ident
 * must echo the request's and the authenticator response must prove the server knew the password.
 */
export function msChapV2SuccessValid(request: MsChapV2Request, success: string | undefined): boolean {
  if (!success || !/^0x[0-9a-f]+$/i.test(success)) return false;
  const bytes = Buffer.from(success.slice(2), 'hex');
  return bytes[0] === request.ident && bytes.subarray(1).toString('latin1').startsWith(request.expectedSuccess);
}
