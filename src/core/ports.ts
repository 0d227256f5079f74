/**
 * Ports: what the core needs from the outside world. The composition root (src/server.ts) supplies
 * implementations; tests supply fakes for the clock and randomness, and the real store.
 */
import type { CoreError } from './errors.ts';
import type {
  ApiKey,
  Application,
  ApplicationPatch,
  AuditEvent,
  AuditQuery,
  Authentication,
  AuthReason,
  AuthState,
  Bypass,
  MethodRecord,
  NewApplication,
  NewAuditEvent,
  NewMethod,
  NewUser,
  Page,
  Phone,
  PhoneCode,
  PhoneWhich,
  Settings,
  User,
  UserPatch,
  UserQuery,
} from './types.ts';

/** The only reader of the wall clock. */
export interface Clock {
  now(): number;
}

/** The only reader of the CSPRNG. */
export interface Random {
  bytes(n: number): Uint8Array;
  /** A new unique identifier (URL-safe, sortable by creation time). */
  id(): string;
  /** Uniform integer in [0, max). */
  int(max: number): number;
}

/**
 * Sends a text message (SMS). Resolves once the provider accepted the message; throws when it did
 * not (unreachable, refused, timed out), so the caller fails closed and says so.
 */
export interface SmsSender {
  send(message: { readonly to: string /* E.164, e.g. +14155550100 */; readonly text: string }): Promise<void>;
}

/**
 * Checks one reply attribute against the protocol that will send it (the RADIUS dictionary: a
 * known name, a value that fits its type). Null when it may be stored; otherwise which part is
 * wrong and why, e.g. `{ part: 'name', message: 'unknown attribute "Nope"' }`.
 */
export type ReplyAttributeCheck = (attribute: { readonly name: string; readonly value: string }) => { readonly part: 'name' | 'value'; readonly message: string } | null;

/**
 * Places the phone call of an authentication (the voice method). Resolves once the provider
 * accepted the call; throws when it did not, so the authentication fails closed. The call's answer
 * comes back through the provider's webhook, which hands the core `token` with the keys pressed.
 */
export interface VoiceCaller {
  call(call: {
    readonly to: string /* E.164 */;
    readonly extension: string | null;
    readonly authenticationId: string;
    readonly token: string;
    /** The application's name, said in the call. */
    readonly application: string;
    /** The user's language (BCP 47, e.g. en, fr). */
    readonly language: string;
  }): Promise<void>;
}

/** A device's Web Push subscription (the browser's PushSubscription, as JSON). */
export interface PushSubscription {
  /** The push service's URL for this device (https). */
  readonly endpoint: string;
  readonly keys: {
    /** The device's P-256 public key, base64url (uncompressed point, 65 octets). */
    readonly p256dh: string;
    /** The 16-octet authentication secret, base64url. */
    readonly auth: string;
  };
}

/**
 * Wakes a device of the push method through its push service (Web Push, RFC 8030 / 8291 / 8292).
 * The notification only says that a request waits; the device fetches it from the mobile API.
 */
export interface PushSender {
  /**
   * Resolves 'sent' when the push service accepted the message, 'gone' when it says the
   * subscription no longer exists (404 / 410); throws on anything else (refused, unreachable,
   * timed out), so the caller can tell the user.
   */
  notify(subscription: PushSubscription, message: { readonly title: string; readonly body: string; readonly authenticationId: string }): Promise<'sent' | 'gone'>;
}

/** One-way hashing of low-entropy secrets (PINs, passwords): argon2id. */
export interface PasswordHasher {
  hash(plain: string): Promise<string>;
  verify(hash: string, plain: string): Promise<boolean>;
}

/** Keyed hash for high-entropy secrets (API keys): HMAC-SHA-256 under a server pepper. */
export interface KeyedHasher {
  /** Hex digest. */
  digest(value: string): string;
  /** Constant-time comparison of digest(value) with an expected hex digest. */
  matches(value: string, expectedHex: string): boolean;
}

export interface UserStore {
  /** Throws CoreError('user_exists') when the username (case-insensitive) is taken. */
  create(user: NewUser, id: string, now: number): Promise<User>;
  /**
   * Creates many users in one transaction. Each result is the user, or CoreError('user_exists')
   * when its username or directory id was taken (the others are created all the same).
   */
  createMany(users: readonly { readonly user: NewUser; readonly id: string }[], now: number): Promise<(User | CoreError)[]>;
  /** Case-insensitive lookup. */
  getByUsername(username: string): Promise<User | undefined>;
  getById(id: string): Promise<User | undefined>;
  /** The user imported from `directory` whose stable directory id is `externalId` (exact match). */
  getBySource(directory: string, externalId: string): Promise<User | undefined>;
  /** The users imported from `directory` with any of these ids (at most 1000). */
  getManyBySource(directory: string, externalIds: readonly string[]): Promise<User[]>;
  list(query: UserQuery): Promise<Page<User>>;
  count(): Promise<number>;
  /** Throws CoreError('user_not_found'); 'user_exists' on a rename onto a taken name. */
  update(id: string, patch: UserPatch, now: number): Promise<User>;
  /**
   * Marks one phone verified at `at`, only if it still is `phone` (exactly): a number changed
   * meanwhile stays unverified. Changing a phone through `update` clears its verification in the
   * same statement. False when the user is gone or the phone changed.
   */
  setPhoneVerified(id: string, which: PhoneWhich, phone: Phone, at: number): Promise<boolean>;
  /** Deletes the user with its methods, bypasses and cached approvals. Returns false if absent. */
  delete(id: string): Promise<boolean>;
  setBlocked(id: string, blocked: { at: number; reason: string } | null, now: number): Promise<User>;
  /**
   * Atomically counts one failed authentication. When the new count reaches `threshold`
   * (threshold > 0) and the user is not locked yet, sets lockedAt = now. Concurrent calls from any
   * number of processes each add exactly one. Returns the user after the update.
   */
  recordFailure(id: string, threshold: number, now: number): Promise<{ failedCount: number; lockedAt: number | null }>;
  /** Clears failedCount and lockedAt (success, admin unlock or auto-unlock). */
  resetFailures(id: string, now: number): Promise<void>;
}

export interface MethodStore {
  add(method: NewMethod, id: string, now: number): Promise<MethodRecord>;
  get(id: string): Promise<MethodRecord | undefined>;
  listForUser(userId: string): Promise<MethodRecord[]>;
  delete(id: string): Promise<boolean>;
  deleteAllForUser(userId: string): Promise<number>;
  /**
   * The replay guard. Atomically sets lastStep = step, drift and lastUsedAt = now only if the
   * stored lastStep is null or < step. Returns true for exactly one of any number of concurrent
   * callers presenting the same step, in any number of processes; false when the step (or a later
   * one) was already consumed.
   */
  consumeStep(id: string, step: number, drift: number, now: number): Promise<boolean>;
  /**
   * Confirms a pending method with the step of a code the user entered: clears pending and consumes
   * the step, only if the method is still pending and the step is new. True for exactly one caller.
   */
  confirm(id: string, step: number, drift: number, now: number): Promise<boolean>;
  /**
   * Completes a pending method set up elsewhere (a mobile device's activation): replaces its secret
   * and label and clears pending, only if it is still pending. True for exactly one caller.
   */
  activate(id: string, secret: Uint8Array, label: string, now: number): Promise<boolean>;
  /** Replaces the secret of an active method (a device's new push subscription). False when it is gone. */
  replaceSecret(id: string, secret: Uint8Array): Promise<boolean>;
  /**
   * Compare-and-set of lastStep: sets it to `next` (with lastUsedAt = now) only if it still equals
   * `expected` (null included). True for exactly one of any number of concurrent callers.
   */
  swapStep(id: string, expected: number | null, next: number, now: number): Promise<boolean>;
  /** Unconditionally sets lastStep (HOTP resync, administrator reset). */
  setStep(id: string, step: number | null, drift: number, now: number): Promise<void>;
  /** Re-seal every stored secret under the current active key (key rotation). Returns the count. */
  resealAll(): Promise<number>;
}

/** Codes texted to verify a user's phone: at most one per user and phone, stored as a keyed hash. */
export interface PhoneCodeStore {
  /**
   * Stores a new code for the user's phone, replacing any earlier one (which stops working), unless
   * the earlier one was sent after `sentBefore` (the rate limit). One statement: of concurrent
   * callers in any number of processes, exactly one wins while the limit holds. True when stored.
   */
  issue(code: Omit<PhoneCode, 'attempts'>, sentBefore: number): Promise<boolean>;
  /**
   * Counts one confirmation attempt on the unexpired code, if it has had fewer than `maxAttempts`,
   * and returns its hash to compare; undefined when there is no usable code. Concurrent callers each
   * count exactly once, so no code is compared more than `maxAttempts` times.
   */
  attempt(userId: string, which: PhoneWhich, now: number, maxAttempts: number): Promise<string | undefined>;
  /** Deletes the code if it still has this hash (single use). True for exactly one concurrent caller. */
  consume(userId: string, which: PhoneWhich, hash: string): Promise<boolean>;
}

export interface ApplicationStore {
  create(app: NewApplication, id: string, now: number): Promise<Application>;
  get(id: string): Promise<Application | undefined>;
  getByName(name: string): Promise<Application | undefined>;
  list(): Promise<Application[]>;
  update(id: string, patch: ApplicationPatch, now: number): Promise<Application>;
  delete(id: string): Promise<boolean>;
}

export interface BypassStore {
  /** Replaces any unused bypass of the user by this one. */
  issue(bypass: Omit<Bypass, 'usedAt'>): Promise<Bypass>;
  /** The user's unused, unexpired bypass, if any. */
  active(userId: string, now: number): Promise<Bypass | undefined>;
  /** Atomically marks the active bypass used. True for exactly one concurrent caller. */
  consume(userId: string, now: number): Promise<boolean>;
  cancel(userId: string): Promise<boolean>;
  history(userId: string, limit: number): Promise<Bypass[]>;
}

export interface AuthenticationStore {
  create(auth: Authentication): Promise<void>;
  /**
   * The replay guard and the decision in one commit: consumes the method's step exactly as
   * MethodStore.consumeStep does and, only if that won, creates the authentication and appends its
   * audit event in the same transaction. False when the step (or a later one) was already
   * consumed: then nothing is written.
   */
  createIfConsumed(step: { readonly methodId: string; readonly step: number; readonly drift: number; readonly now: number }, auth: Authentication, event: NewAuditEvent): Promise<boolean>;
  get(id: string): Promise<Authentication | undefined>;
  /**
   * Compare-and-set of the state: moves an authentication from `from` to `to` only if it is still
   * in `from`. True for exactly one concurrent caller.
   */
  transition(id: string, from: AuthState, to: AuthState, reason: AuthReason, fields: { methodId?: string | null; methodType?: string | null }, now: number): Promise<boolean>;
  /**
   * Most recent approval by a second factor (reason 'passcode_ok') for the user, application and
   * client address, created at or after `since`. Approvals that were themselves cached, bypassed or
   * trusted never extend the cache window.
   */
  lastApproval(userId: string, applicationId: string, clientIp: string, since: number): Promise<Authentication | undefined>;
  /** Deletes the oldest `limit` finished authentications created before `before`; how many went. */
  prune(before: number, limit: number): Promise<number>;
  /** Pending authentications of one method (a push device) that expire after `now`, oldest first (at most 20). */
  pendingForMethod(methodId: string, now: number): Promise<Authentication[]>;
}

export interface ApiKeyStore {
  create(key: ApiKey): Promise<ApiKey>;
  getByLookupId(lookupId: string): Promise<ApiKey | undefined>;
  list(): Promise<ApiKey[]>;
  revoke(id: string, now: number): Promise<boolean>;
  touch(id: string, now: number): Promise<void>;
}

export interface AuditStore {
  append(event: NewAuditEvent): Promise<number>;
  query(query: AuditQuery): Promise<AuditEvent[]>;
  /** Deletes the oldest `limit` events from before `before`; how many went. */
  prune(before: number, limit: number): Promise<number>;
}

/** Final results of authentications (approved, denied, expired) in a time range, counted by the database. */
export interface SignInCounts {
  /** Buckets that hold at least one result, oldest first; `at` is the start of the bucket. */
  readonly series: readonly { readonly at: number; readonly approved: number; readonly denied: number; readonly expired: number }[];
  /** By method type; 'none' for decisions made before a method was chosen (unknown user, locked, trusted network...). */
  readonly byMethod: readonly { readonly method: string; readonly approved: number; readonly denied: number }[];
  readonly byApplication: readonly { readonly application: string; readonly approved: number; readonly denied: number }[];
}

/** Users by effective state (disabled > blocked > locked > enabled). */
export interface UserStateCounts {
  readonly total: number;
  readonly enabled: number;
  readonly locked: number;
  readonly blocked: number;
  readonly disabled: number;
}

/** Aggregates for the console's dashboard, computed by the database (GROUP BY, indexed counts). */
export interface ReportStore {
  /**
   * Audit events of kind `authentication` and action `authenticate` with a final result, `at` in
   * [from, to), grouped into buckets of `bucketMs` milliseconds aligned on the epoch (UTC hours and
   * days). Challenges are not counted: they are not decisions.
   */
  signIns(query: { readonly from: number; readonly to: number; readonly bucketMs: number }): Promise<SignInCounts>;
  /** Counts from the partial indexes of each state, so the cost follows the non-enabled users, not all of them. */
  userStates(): Promise<UserStateCounts>;
}

export interface SettingsStore {
  /** Stored overrides (deep-merged over defaults by the core). */
  get(): Promise<Partial<Record<keyof Settings, unknown>>>;
  put(key: keyof Settings, value: unknown, now: number): Promise<void>;
}

/** What the synchronization remembers of one directory entry, to skip unchanged entries without writing. */
export interface DirectoryEntryRecord {
  readonly externalId: string;
  readonly userId: string;
  /** Digest of the mapped attributes, the disabled flag and the sync item that took the entry. */
  readonly digest: string;
  /** The user was disabled by the synchronization (not by an administrator), so it may re-enable them. */
  readonly disabledBySync: boolean;
}

/** A directory user as seen by removal detection. */
export interface DirectoryMember {
  readonly id: string;
  readonly username: string;
  readonly externalId: string;
  readonly status: 'enabled' | 'disabled';
}

export type SyncRunStatus =
  | 'running'
  | 'completed'
  | 'failed'
  /** The process stopped (crash, kill) before the run finished; the next run starts over. */
  | 'interrupted'
  /** More users would be disabled or removed than the threshold allows: waiting for an administrator. */
  | 'awaiting_approval'
  | 'approved'
  | 'rejected'
  /** A newer run produced a newer list of pending changes. */
  | 'superseded';

export interface SyncCounts {
  /** Directory entries read in scope. */
  readonly seen: number;
  readonly added: number;
  readonly updated: number;
  readonly unchanged: number;
  /** Users disabled (directory account disabled, or left the scope with removal 'disable'). */
  readonly disabled: number;
  /** Users re-enabled because their directory account, which the sync had disabled, is enabled again. */
  readonly enabled: number;
  /** Users deleted (left the scope or deleted in the directory, with removal 'delete'). */
  readonly removed: number;
  readonly errors: number;
  /** Entries without a usable login name or stable id. */
  readonly skipped: number;
}

export interface SyncRunError {
  readonly dn: string;
  readonly username: string | null;
  readonly code: string;
  readonly message: string;
}

/** A disable or removal held back for an administrator's decision. */
export interface PendingChange {
  readonly userId: string;
  readonly username: string;
  readonly externalId: string;
  readonly action: 'disable' | 'delete';
  readonly reason: 'directory_disabled' | 'left_scope';
}

export interface SyncRun {
  readonly id: string;
  readonly directory: string;
  readonly mode: 'full' | 'incremental';
  readonly trigger: 'schedule' | 'manual' | 'approval';
  readonly status: SyncRunStatus;
  /** The server (host:pid) that ran it. */
  readonly node: string;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  readonly counts: SyncCounts;
  /** The first errors (at most 100); counts.errors has the total. */
  readonly errors: readonly SyncRunError[];
  readonly pending: readonly PendingChange[];
  /** Why the run failed, when it did. */
  readonly failure: string | null;
  readonly decidedBy: string | null;
  readonly decidedAt: number | null;
}

/** Where incremental synchronization resumes: the highest change marker seen on one server. */
export interface SyncCursor {
  /** uSNChanged (Active Directory), entryCSN (OpenLDAP) or modifyTimestamp. */
  readonly attribute: string;
  readonly value: string;
  /** The URL the marker came from: uSNChanged is per domain controller. */
  readonly url: string;
}

export interface SyncState {
  readonly directory: string;
  readonly cursor: SyncCursor | null;
  readonly lastFullAt: number | null;
  readonly lastRunAt: number | null;
}

export interface DirectorySyncStore {
  /** The stored records of these entries (at most 1000 ids per call). */
  entries(directory: string, externalIds: readonly string[]): Promise<Map<string, DirectoryEntryRecord>>;
  /** Inserts or replaces records, in one transaction. */
  putEntries(directory: string, records: readonly DirectoryEntryRecord[]): Promise<void>;
  deleteEntries(directory: string, externalIds: readonly string[]): Promise<void>;
  /** Users imported from `directory`, by id, `limit` at a time after `afterId`. */
  members(directory: string, afterId: string | null, limit: number): Promise<DirectoryMember[]>;
  getState(directory: string): Promise<SyncState | undefined>;
  putState(state: SyncState): Promise<void>;
  createRun(run: SyncRun): Promise<void>;
  /** Replaces the run's mutable fields. */
  saveRun(run: SyncRun): Promise<void>;
  /** Compare-and-set of the status: true for exactly one concurrent caller. */
  transitionRun(id: string, from: SyncRunStatus, to: SyncRunStatus, fields: { decidedBy?: string; decidedAt?: number; finishedAt?: number }): Promise<boolean>;
  getRun(id: string): Promise<SyncRun | undefined>;
  /** Newest first. */
  listRuns(query: { directory?: string; status?: SyncRunStatus; limit: number }): Promise<SyncRun[]>;
}

/** Named leases shared by every server on one database: at most one holder at a time. */
export interface LeaseStore {
  /** Takes or renews the lease for `ttlMs`. True when `holder` holds it now. */
  acquire(name: string, holder: string, ttlMs: number, now: number): Promise<boolean>;
  release(name: string, holder: string): Promise<void>;
  /** The current holder, if the lease is held and not expired. */
  holder(name: string, now: number): Promise<string | undefined>;
}

/** Where a sign-in session stands. */
export type SessionStage =
  /** The first factor passed; the second is awaited. */
  | 'second_factor'
  /** The first factor passed and the user has no method: they set one up before going on. */
  | 'enroll'
  /** Signed in. */
  | 'complete';

/** Who a sign-in session is for: the user portal, the admin console, or the web gateway's protected sites. */
export type SessionKind = 'portal' | 'console' | 'gateway';

/** A portal, console or gateway sign-in session. The token is never stored: only its keyed hash. */
export interface SessionRecord {
  readonly idHash: string;
  readonly kind: SessionKind;
  readonly userId: string;
  readonly stage: SessionStage;
  /** The anti-forgery token forms and API calls must echo. */
  readonly csrf: string;
  /** Flow state: the open authentication, a method awaiting confirmation, the last second factor time. */
  readonly data: Readonly<Record<string, unknown>>;
  readonly clientIp: string | null;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  /** The absolute end of the session. */
  readonly expiresAt: number;
}

export interface SessionStore {
  create(session: SessionRecord): Promise<void>;
  get(idHash: string): Promise<SessionRecord | undefined>;
  /** Replaces stage, data and lastSeenAt. False when the session is gone. */
  update(idHash: string, fields: { stage?: SessionStage; data?: Readonly<Record<string, unknown>>; lastSeenAt?: number }): Promise<boolean>;
  /**
   * Moves a session to a new id (renewal at sign-in), with new fields, in one step: true for
   * exactly one concurrent caller; the old id stops working.
   */
  rename(oldIdHash: string, next: SessionRecord): Promise<boolean>;
  delete(idHash: string): Promise<boolean>;
  /** Ends every session of the user (of one kind, or all). Returns the count. */
  deleteForUser(userId: string, kind?: SessionKind): Promise<number>;
  /** Deletes sessions past their absolute end or idle since before `idleBefore`. */
  prune(now: number, idleBefore: number): Promise<number>;
}

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  readonly sessions: SessionStore;
  readonly directorySync: DirectorySyncStore;
  readonly leases: LeaseStore;
  readonly users: UserStore;
  readonly phoneCodes: PhoneCodeStore;
  readonly methods: MethodStore;
  readonly applications: ApplicationStore;
  readonly bypasses: BypassStore;
  readonly authentications: AuthenticationStore;
  readonly apiKeys: ApiKeyStore;
  readonly audit: AuditStore;
  readonly reports: ReportStore;
  readonly settings: SettingsStore;
  /** Cheap round trip for readiness checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Why a first factor (username + password) was refused. Explained inside; one failure outside. */
export type FirstFactorFailure = 'invalid_credentials' | 'unknown_user' | 'empty_password' | 'directory_unavailable' | 'ambiguous_user' | 'account_disabled' | 'account_locked';

export type FirstFactorResult = { ok: true; dn: string } | { ok: false; reason: FirstFactorFailure };

/**
 * Checks a username and password (LDAP bind, local argon2id passwords). Every front door that
 * takes a password calls one of these before the second factor. Never throws for a refusal.
 */
export interface FirstFactorProvider {
  verify(username: string, password: string): Promise<FirstFactorResult>;
}
