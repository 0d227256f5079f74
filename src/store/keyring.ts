/**
 * Secret sealing at rest.
 *
 * A key file holds the sealing keys and the API-key pepper, outside the database:
 *
 *     {"version":1,"active":"k1","keys":{"k1":"<base64 32 bytes>"},"pepper":"<base64 32 bytes>"}
 *
 * It is written with mode 0600 and refused when readable by group or other. Sealed values are
 * `v1.<kid>.<iv b64url>.<ciphertext+tag b64url>`: AES-256-GCM with a random 96-bit IV per seal and
 * associated data that binds the value to its row, so a sealed secret copied into another row
 * does not open. Rotation adds a key and makes it active; old keys stay to open older values.
 *
 * The same file holds the server's Web Push (VAPID, RFC 8292) key pair, `"vapid":{"publicKey":
 * "<base64url 65 octets>","privateKey":"<base64url 32 octets>"}`: every node signs its push
 * messages with it, and devices subscribe to it, so it lives where the other keys shared by the
 * nodes do. It is never rotated (devices would have to subscribe again).
 */
import { createCipheriv, createDecipheriv, createECDH, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { CoreError } from '../core/errors.ts';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const SEALED_PREFIX = 'v1';

export class Keyring {
  readonly activeKid: string;
  // Private, so neither logging nor JSON.stringify of a Keyring shows key material. KeyObjects:
  // a cipher made from a KeyObject skips re-importing the raw key (about 10x cheaper).
  readonly #keys: Map<string, KeyObject>;
  readonly #active: KeyObject;
  readonly #pepper: Uint8Array;
  readonly #reload: (() => ReadonlyMap<string, Uint8Array>) | undefined;
  #reloadedAt = Number.NEGATIVE_INFINITY;

  /**
   * Checks key ids and sizes. `loadKeyring` and `keyringFromKeys` are the usual ways in. `reload`
   * re-reads the key file when a sealed value names a key this keyring does not know (a rotation
   * done by `countersign keys rotate` while this process runs).
   */
  constructor(keys: ReadonlyMap<string, Uint8Array>, active: string, pepper: Uint8Array, reload?: () => ReadonlyMap<string, Uint8Array>) {
    const imported = new Map<string, KeyObject>();
    for (const [kid, key] of keys) {
      if (!KID_PATTERN.test(kid)) throw new CoreError('config_invalid', `keyring: key id "${kid}" must match ${KID_PATTERN}`);
      if (key.length !== KEY_BYTES) throw new CoreError('config_invalid', `keyring: key "${kid}" must be ${KEY_BYTES} bytes`);
      imported.set(kid, createSecretKey(key));
    }
    const activeKey = imported.get(active);
    if (activeKey === undefined) throw new CoreError('config_invalid', `keyring: active key "${active}" is not among the keys`);
    if (pepper.length !== KEY_BYTES) throw new CoreError('config_invalid', `keyring: pepper must be ${KEY_BYTES} bytes`);
    this.#keys = imported;
    this.#active = activeKey;
    this.#pepper = new Uint8Array(pepper);
    this.#reload = reload;
    this.activeKid = active;
  }

  /** The key for `kid`, re-reading the key file (at most once a second) when it is unknown. */
  #key(kid: string): KeyObject | undefined {
    const known = this.#keys.get(kid);
    if (known !== undefined || this.#reload === undefined || performance.now() - this.#reloadedAt < 1000) return known;
    this.#reloadedAt = performance.now();
    try {
      for (const [id, key] of this.#reload()) if (!this.#keys.has(id) && key.length === KEY_BYTES) this.#keys.set(id, createSecretKey(key));
    } catch {
      // An unreadable or malformed file adds nothing; the caller reports the unknown key.
    }
    return this.#keys.get(kid);
  }

  /** The HMAC pepper for API keys (a copy). */
  get pepper(): Uint8Array {
    return new Uint8Array(this.#pepper);
  }

  /** Seals `plain` under the active key, bound to `aad` (the owning row's id). */
  seal(plain: Uint8Array, aad: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#active, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return `${SEALED_PREFIX}.${this.activeKid}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  /** Opens a sealed value. Throws on an unknown key, a malformed value, tampering or the wrong `aad`. */
  open(sealed: string, aad: string): Uint8Array {
    const parts = sealed.split('.');
    if (parts.length !== 4 || parts[0] !== SEALED_PREFIX) throw new CoreError('internal', 'sealed secret is malformed');
    const [, kid, ivText, bodyText] = parts as [string, string, string, string];
    const key = this.#key(kid);
    if (key === undefined) throw new CoreError('internal', `sealed secret uses key "${kid}", which is not in the key file`);
    const iv = Buffer.from(ivText, 'base64url');
    const body = Buffer.from(bodyText, 'base64url');
    if (iv.length !== IV_BYTES || body.length < TAG_BYTES) throw new CoreError('internal', 'sealed secret is malformed');
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    let plain: Buffer;
    try {
      // GCM returns the whole plaintext from update(); final() only checks the tag.
      plain = decipher.update(body.subarray(0, body.length - TAG_BYTES));
      decipher.final();
    } catch {
      throw new CoreError('internal', 'sealed secret failed authentication (tampered, or bound to another row)');
    }
    // A plain Uint8Array of its own (never a view into a shared Buffer pool).
    return new Uint8Array(plain);
  }

  /** Key id of a sealed value, without opening it. */
  static kidOf(sealed: string): string | undefined {
    const parts = sealed.split('.');
    return parts.length === 4 && parts[0] === SEALED_PREFIX ? parts[1] : undefined;
  }
}

/** Builds a keyring from raw keys (tests, tools). */
export function keyringFromKeys(keys: Record<string, Uint8Array>, active: string, pepper: Uint8Array): Keyring {
  return new Keyring(new Map(Object.entries(keys)), active, pepper);
}

interface KeyFile {
  version: 1;
  active: string;
  keys: Record<string, string>;
  pepper: string;
  vapid?: VapidKeys;
}

/** The server's Web Push key pair (P-256), base64url: the public key uncompressed (65 octets), the private scalar (32). */
export interface VapidKeys {
  readonly publicKey: string;
  readonly privateKey: string;
}

/** A new P-256 key pair for Web Push (VAPID). */
export function generateVapidKeys(): VapidKeys {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  // The private scalar comes without its leading zero octets; keep it 32 octets.
  const scalar = ecdh.getPrivateKey();
  const privateKey = Buffer.concat([Buffer.alloc(32 - scalar.length), scalar]);
  return { publicKey: ecdh.getPublicKey().toString('base64url'), privateKey: privateKey.toString('base64url') };
}

/** Writes a new key file with one key and a pepper. Refuses to overwrite an existing file. */
export async function createKeyFile(path: string): Promise<void> {
  const file: KeyFile = {
    version: 1,
    active: 'k1',
    keys: { k1: randomBytes(KEY_BYTES).toString('base64') },
    pepper: randomBytes(KEY_BYTES).toString('base64'),
    vapid: generateVapidKeys(),
  };
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new CoreError('config_invalid', `key file ${path} already exists; refusing to overwrite it (losing it loses every sealed secret)`);
    }
    throw new CoreError('config_invalid', `cannot create key file ${path}: ${(e as Error).message}`);
  }
  try {
    await handle.writeFile(serialize(file));
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads and checks a key file. */
export async function loadKeyring(path: string): Promise<Keyring> {
  const file = await readKeyFile(path);
  const reload = (): ReadonlyMap<string, Uint8Array> => {
    const mode = statSync(path).mode;
    if ((mode & 0o077) !== 0) throw new CoreError('config_invalid', `key file ${path} is readable by other users`);
    return keysOf(checkKeyFile(JSON.parse(readFileSync(path, 'utf8')), path));
  };
  return new Keyring(keysOf(file), file.active, Buffer.from(file.pepper, 'base64'), reload);
}

function keysOf(file: KeyFile): Map<string, Uint8Array> {
  return new Map(Object.entries(file.keys).map(([kid, value]) => [kid, Buffer.from(value, 'base64')]));
}

/** Adds a new key to the file and makes it active. Old keys stay so older secrets still open. */
export async function rotateKeyFile(path: string): Promise<{ kid: string }> {
  const file = await readKeyFile(path);
  let n = Object.keys(file.keys).length + 1;
  while (`k${n}` in file.keys) n++;
  const kid = `k${n}`;
  await replaceKeyFile(path, { ...file, active: kid, keys: { ...file.keys, [kid]: randomBytes(KEY_BYTES).toString('base64') } });
  return { kid };
}

/**
 * The Web Push key pair of the key file. Throws naming `countersign keys vapid` when the file has
 * none (a key file made before push existed).
 */
export async function readVapidKeys(path: string): Promise<VapidKeys> {
  const { vapid } = await readKeyFile(path);
  if (vapid === undefined) throw new CoreError('config_invalid', `key file ${path} has no Web Push (VAPID) key pair; add one with: countersign keys vapid`);
  return vapid;
}

/** Adds a Web Push key pair to a key file that has none; an existing pair is kept (devices are subscribed to it). */
export async function addVapidKeys(path: string): Promise<{ publicKey: string; created: boolean }> {
  const file = await readKeyFile(path);
  if (file.vapid !== undefined) return { publicKey: file.vapid.publicKey, created: false };
  const vapid = generateVapidKeys();
  await replaceKeyFile(path, { ...file, vapid });
  return { publicKey: vapid.publicKey, created: true };
}

/** Writes `next` to a new file (mode 0600) and renames it over `path`. */
async function replaceKeyFile(path: string, next: KeyFile): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(serialize(next));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
}

function serialize(file: KeyFile): string {
  return `${JSON.stringify(file, null, 2)}\n`;
}

async function readKeyFile(path: string): Promise<KeyFile> {
  let mode: number;
  let text: string;
  try {
    mode = (await stat(path)).mode;
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new CoreError('config_invalid', `cannot read key file ${path}: ${(e as Error).message}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new CoreError(
      'config_invalid',
      `key file ${path} is readable by other users (mode ${(mode & 0o777).toString(8).padStart(3, '0')}); restrict it with: chmod 600 ${path}`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new CoreError('config_invalid', `key file ${path} is not valid JSON`);
  }
  return checkKeyFile(data, path);
}

function checkKeyFile(data: unknown, path: string): KeyFile {
  const bad = (what: string): never => {
    throw new CoreError('config_invalid', `key file ${path} is malformed: ${what}`);
  };
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return bad('expected a JSON object');
  const record = data as Record<string, unknown>;
  if (record.version !== 1) bad('"version" must be 1');
  if (typeof record.keys !== 'object' || record.keys === null || Array.isArray(record.keys)) bad('"keys" must be an object of key id to base64 key');
  const keys = record.keys as Record<string, unknown>;
  if (Object.keys(keys).length === 0) bad('"keys" is empty');
  for (const [kid, value] of Object.entries(keys)) {
    if (!KID_PATTERN.test(kid)) bad(`key id "${kid}" must be letters, digits, "_" or "-"`);
    if (!isBase64Bytes(value, KEY_BYTES)) bad(`key "${kid}" must be ${KEY_BYTES} bytes in base64`);
  }
  if (typeof record.active !== 'string' || !Object.hasOwn(keys, record.active)) bad('"active" must name one of "keys"');
  if (!isBase64Bytes(record.pepper, KEY_BYTES)) bad(`"pepper" must be ${KEY_BYTES} bytes in base64`);
  if (record.vapid !== undefined) checkVapid(record.vapid, bad);
  return record as unknown as KeyFile;
}

function checkVapid(value: unknown, bad: (what: string) => never): void {
  if (typeof value !== 'object' || value === null) bad('"vapid" must be an object with "publicKey" and "privateKey"');
  const { publicKey, privateKey } = value as Record<string, unknown>;
  const bytes = (v: unknown, length: number): Buffer | undefined => {
    if (typeof v !== 'string' || !/^[A-Za-z0-9_-]+$/.test(v)) return undefined;
    const b = Buffer.from(v, 'base64url');
    return b.length === length ? b : undefined;
  };
  const pub = bytes(publicKey, 65);
  const priv = bytes(privateKey, 32);
  if (pub === undefined || pub[0] !== 4) bad('"vapid.publicKey" must be an uncompressed P-256 point (65 octets) in base64url');
  if (priv === undefined) bad('"vapid.privateKey" must be 32 octets in base64url');
  let derived: Buffer | undefined;
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(priv);
    derived = ecdh.getPublicKey();
  } catch {
    derived = undefined;
  }
  if (derived === undefined || !derived.equals(pub)) bad('"vapid.publicKey" does not belong to "vapid.privateKey"');
}

function isBase64Bytes(value: unknown, length: number): boolean {
  return typeof value === 'string' && /^[A-Za-z0-9+/]+={0,2}$/.test(value) && Buffer.from(value, 'base64').length === length;
}
