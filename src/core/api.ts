/**
 * The core's public surface: what front doors (HTTP API, CLI, later RADIUS, LDAP, gateway, portal)
 * call. Inputs are validated here too; a front door's own schema checks are a first line only.
 */
import type { CoreError } from './errors.ts';
import type { SessionKind, SessionStage } from './ports.ts';
import type { QuestionAnswer, QuestionId } from './methods/questions.ts';
import type { OutOfBandResponse } from './auth/engine.ts';
import type { DevicesService } from './services/devices.ts';
export type { OutOfBandResponse } from './auth/engine.ts';
export type { DeviceRequest } from './types.ts';
export type { ActivateDeviceInput, DeviceActivation, DeviceView, SignedRequest } from './services/devices.ts';

export type { QuestionAnswer, QuestionId } from './methods/questions.ts';
import type {
  Application,
  ApplicationPatch,
  ConsoleRole,
  AuditEvent,
  AuditQuery,
  AuthReason,
  AuthState,
  EffectiveStatus,
  MethodType,
  NewApplication,
  OathConfig,
  Page,
  PhoneWhich,
  ReplyAttribute,
  Role,
  Settings,
  SettingsPatch,
  User,
  UserSource,
  UserStatus,
} from './types.ts';

/** Who asks. Recorded as the audit event's actor. */
export interface Actor {
  /** apikey: REST caller; operator: console user; user: a user acting on their own account in the portal. */
  readonly kind: 'apikey' | 'cli' | 'system' | 'operator' | 'user';
  /** API key name, OS user for the CLI, 'system', or the username of an operator or user. */
  readonly name: string;
  /** 'self' for a user acting on their own account. */
  readonly role: Role | 'self';
}

export interface PhoneInput {
  /** Any common notation; with `country` when not in international format. */
  readonly number: string;
  readonly country?: string | null;
  readonly extension?: string | null;
}

export interface CreateUserInput {
  readonly username: string;
  readonly displayName?: string | null;
  readonly email?: string | null;
  readonly phone?: PhoneInput | null;
  readonly backupPhone?: PhoneInput | null;
  readonly language?: string;
  readonly status?: UserStatus;
  readonly defaultMethod?: MethodType | null;
  /** Plain PIN; stored as an argon2id hash. */
  readonly pin?: string | null;
  readonly source?: UserSource;
}

export type UpdateUserInput = Partial<Omit<CreateUserInput, 'source'>>;

export interface UserView extends Omit<User, 'pinHash' | 'passwordHash'> {
  /** disabled > blocked > locked > enabled */
  readonly state: EffectiveStatus;
  readonly hasPin: boolean;
  /** The user has a local password (the hash itself is never shown). */
  readonly hasPassword: boolean;
}

export interface MethodView {
  readonly id: string;
  readonly type: MethodType;
  readonly label: string;
  readonly config: OathConfig;
  readonly drift: number;
  /** Set up but not confirmed with a code yet: not usable to sign in. */
  readonly pending: boolean;
  /** Backup codes: how many are still unused; null for other types. */
  readonly remaining: number | null;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
}

export interface EnrollTotpInput {
  readonly label?: string;
  /** The method stays pending (unusable) until methods.confirm gets a code from it. */
  readonly confirm?: boolean;
  readonly algorithm?: OathConfig['algorithm'];
  readonly digits?: OathConfig['digits'];
  readonly period?: number;
}

/** Returned once: the codes are never shown again. */
export interface BackupCodesResult {
  readonly method: MethodView;
  /** Ten codes of ten digits, written 12345-67890. */
  readonly codes: readonly string[];
}

/** Returned once at enrollment: the secret is never shown again. */
export interface EnrollmentResult {
  readonly method: MethodView;
  /** Base32 (RFC 4648, no padding). */
  readonly secret: string;
  readonly otpauthUri: string;
  /** QR code of the otpauth URI, as an SVG document. */
  readonly qrSvg: string;
}

export interface ImportRowError {
  /** 1-based line (CSV) or key package index (PSKC). */
  readonly row: number;
  readonly field: string | null;
  readonly message: string;
}

export interface ImportReport {
  readonly total: number;
  readonly created: number;
  readonly updated: number;
  readonly skipped: number;
  readonly errors: readonly ImportRowError[];
}

export type ProgressFn = (done: number, total: number) => void;

export interface CreateAuthenticationInput {
  readonly username: string;
  /** Application name; the 'default' application when omitted. */
  readonly application?: string;
  readonly clientIp?: string | null;
  /** Answer in the same call (synchronous verification). */
  readonly passcode?: string;
  /** Method type to use instead of the user's default. */
  readonly method?: MethodType;
  /**
   * The caller cannot come back with a code (a RADIUS client in append mode given no code): only
   * methods answered elsewhere (a phone call) are chosen.
   */
  readonly oneStep?: boolean;
  /**
   * The caller asks for a typed code (the portal, console and gateway pages): methods answered
   * elsewhere (a phone call) are not chosen; a texted code is.
   */
  readonly codeOnly?: boolean;
  /**
   * Which shortcuts past the second factor apply (each true when omitted): trusted networks, the
   * approval cache, a one-time bypass. For the portal and console sign-in; the REST API never sets
   * it. With any shortcut off, an unknown user is denied whatever the application says.
   */
  readonly exemptions?: { readonly trustedIp?: boolean; readonly cache?: boolean; readonly bypass?: boolean };
}

export interface AddPhoneMethodInput {
  readonly type: 'sms' | 'voice';
  /** Which of the user's phones; the primary one when omitted. */
  readonly phone?: PhoneWhich;
  readonly label?: string;
}

export interface AuthenticationView {
  readonly id: string;
  readonly state: AuthState;
  readonly username: string;
  readonly application: string;
  readonly method: MethodType | null;
  readonly createdAt: number;
  readonly expiresAt: number;
  /** Always the same text for every failure. */
  readonly message: string;
}

/** The internal outcome, for the audit trail, logs, metrics and tests; never shown to callers. */
export interface AuthenticationOutcome {
  readonly view: AuthenticationView;
  readonly reason: AuthReason;
  /** For a code texted or a call placed: the phone it went to, masked ("••• 0123"). */
  readonly sentTo?: string;
  /**
   * For an open authentication started without a method: the method types the user could use
   * instead (the chosen one first), for a door that offers a choice.
   */
  readonly choices?: readonly MethodType[];
  /** For a push request: the number the user picks on their device, shown where they sign in. */
  readonly match?: number;
  /**
   * For an approval decided here with the user's record at hand (a code given at once or answering
   * a challenge): the user's RADIUS reply attributes as read for the decision, so a door need not
   * read the user again.
   */
  readonly replyAttributes?: readonly ReplyAttribute[];
}

export interface IssueBypassInput {
  readonly seconds?: number;
  readonly reason: string;
}

export interface BypassView {
  readonly username: string;
  readonly reason: string;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly usedAt: number | null;
}

export interface ApiKeyView {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  /** The public prefix of the key (`cs_<lookupId>_...`). */
  readonly prefix: string;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
}

export interface CreatedApiKey {
  readonly key: ApiKeyView;
  /** The full bearer token, shown once. */
  readonly token: string;
}

export interface Principal {
  readonly apiKeyId: string;
  readonly name: string;
  readonly role: Role;
}

/** A portal, console or gateway sign-in session as front doors see it. */
export interface SessionView {
  /** The token the browser holds (changes when the session is renewed). */
  readonly token: string;
  readonly kind: SessionKind;
  readonly user: UserView;
  readonly stage: SessionStage;
  readonly csrf: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  /** When the session ends unless used again (the sooner of the idle and absolute limits). */
  readonly expiresAt: number;
}

/** A sign-in refused before a session or an authentication exists, for the audit trail. */
export interface SignInRefusal {
  readonly kind: SessionKind;
  /** The application the sign-in was for, in the audit trail; default: the kind (`portal`, `console`). */
  readonly application?: string;
  /** As typed by the person signing in (it may name nobody). */
  readonly username: string;
  /** Why, e.g. `first_factor_invalid_credentials`, `no_console_role`. Never shown to the caller. */
  readonly reason: string;
  readonly clientIp?: string | null;
}

export type ReportBucket = 'hour' | 'day';

/** Final authentication results over time, by method and by application. */
export interface SignInReport {
  readonly bucket: ReportBucket;
  /** One entry per bucket from the one holding `from` to the one holding `to` (empty buckets are zeros). */
  readonly series: readonly { readonly at: number; readonly approved: number; readonly denied: number; readonly expired: number }[];
  readonly byMethod: readonly { readonly method: string; readonly approved: number; readonly denied: number }[];
  readonly byApplication: readonly { readonly application: string; readonly approved: number; readonly denied: number }[];
}

/** The dashboard's first screen. */
export interface DashboardSummary {
  readonly users: { readonly total: number; readonly enabled: number; readonly locked: number; readonly blocked: number; readonly disabled: number };
  /** The last 10 denied authentications, newest first. */
  readonly recentFailures: readonly AuditEvent[];
  /** The last 10 fraud reports (user.fraud_report), newest first. */
  readonly fraudReports: readonly AuditEvent[];
  readonly server: { readonly serverName: string; readonly version: string; readonly startedAt: number; readonly store: 'sqlite' | 'postgres' };
}

export interface FraudReportInput {
  /** The sign-in the user did not make (its authentication id), when known. */
  readonly authenticationId?: string | null;
  readonly note?: string | null;
}

export interface Core {
  readonly users: {
    create(input: CreateUserInput, actor: Actor): Promise<UserView>;
    /** Creates many users in one transaction (imports, directory synchronization); per input, the user or why not. */
    createMany(inputs: readonly CreateUserInput[], actor: Actor): Promise<(UserView | CoreError)[]>;
    get(username: string): Promise<UserView>;
    list(query: { search?: string; state?: EffectiveStatus; after?: string; limit?: number }): Promise<Page<UserView>>;
    count(): Promise<number>;
    update(username: string, patch: UpdateUserInput, actor: Actor): Promise<UserView>;
    delete(username: string, actor: Actor): Promise<void>;
    setEnabled(username: string, enabled: boolean, actor: Actor): Promise<UserView>;
    block(username: string, reason: string, actor: Actor): Promise<UserView>;
    unblock(username: string, reason: string, actor: Actor): Promise<UserView>;
    unlock(username: string, actor: Actor): Promise<UserView>;
    /**
     * Ends every sign-in session of the user: portal, console and the web gateway's sites (a lost
     * laptop, a shared computer). Returns how many ended; audited as user.sign_out.
     */
    signOut(username: string, actor: Actor): Promise<{ readonly ended: number }>;
    /**
     * Sets the local password (first factor) of a local user, or clears it with null. Policy: 12 to
     * 1024 characters, not the username; stored as an argon2id hash. Audited as user.password.set
     * or user.password.clear, never with the value.
     */
    setPassword(username: string, password: string | null, actor: Actor): Promise<UserView>;
    /**
     * Replaces the RADIUS reply attributes of the user (VPN policy: `Class`, `Filter-Id`,
     * `Framed-IP-Address`...), sent in their Access-Accepts; an empty list clears them. At most 32,
     * values of 1-253 octets and 2048 in all; names and values are checked against the RADIUS
     * dictionary (`validation_failed` naming e.g. `attributes[1].name`). Audited as
     * user.reply_attributes with the lists before and after.
     */
    setReplyAttributes(username: string, attributes: readonly ReplyAttribute[], actor: Actor): Promise<UserView>;
    /** Gives the user a role in the admin console, or with null takes it away (their console sessions end). */
    setConsoleRole(username: string, role: ConsoleRole | null, actor: Actor): Promise<UserView>;
    /**
     * The user reports a sign-in they did not make. Audited as user.fraud_report (the console lists
     * these for administrators); blocks the account and ends its sessions when the fraud settings
     * say so. Refused with `forbidden` when reports are turned off.
     */
    reportFraud(username: string, input: FraudReportInput, actor: Actor): Promise<UserView>;
    /** True when an SMS provider is configured, so phones can be verified with texted codes. */
    canSendPhoneCodes(): boolean;
    /**
     * Texts a 6-digit code to the user's primary (`phone`) or backup (`backupPhone`) phone:
     * "Countersign: your code to verify this phone is 123456". The code is valid for 5 minutes and
     * replaces any earlier one; only its keyed hash is stored, bound to the number. At most one
     * code per phone every 30 seconds (`rate_limited`). `forbidden` without an SMS provider,
     * `validation_failed` when that phone is not set, `delivery_failed` when the provider did not
     * take the message (nothing is verified then; the user may ask again at once). Audited as
     * user.phone.code_sent, never with the code.
     */
    sendPhoneCode(username: string, which: 'phone' | 'backupPhone', actor: Actor): Promise<void>;
    /**
     * Checks a code sent by sendPhoneCode (constant-time) and marks that phone verified
     * (`phoneVerifiedAt` / `backupPhoneVerifiedAt`). A code works once, for the number it was sent
     * to, for 5 minutes and 5 attempts; `code_rejected` otherwise. Changing the number clears its
     * verification. Audited as user.phone.verified (result failure for a refused code).
     */
    confirmPhoneCode(username: string, which: 'phone' | 'backupPhone', code: string, actor: Actor): Promise<UserView>;
    /** Block, unblock, lock and unlock events of the user, newest first. */
    history(username: string, limit?: number): Promise<AuditEvent[]>;
    /**
     * CSV with a header row. Columns: username (required), display_name, email, phone, phone_country,
     * phone_extension, backup_phone, backup_phone_country, backup_phone_extension, language, status,
     * default_method. Existing users are updated. Bad rows are reported and never stop good ones.
     */
    importCsv(csv: string, actor: Actor, progress?: ProgressFn): Promise<ImportReport>;
  };
  readonly methods: {
    list(username: string): Promise<MethodView[]>;
    enrollTotp(username: string, input: EnrollTotpInput, actor: Actor): Promise<EnrollmentResult>;
    /**
     * A text-message or phone-call method on one of the user's phones (the number stays on the
     * user). The phone must be set; adding the same method twice returns the existing one.
     */
    addPhoneMethod(username: string, input: AddPhoneMethodInput, actor: Actor): Promise<MethodView>;
    /**
     * Import third-party/hardware OATH tokens with their secrets.
     * CSV columns: username, type (totp|hotp), secret (base32 or hex with 0x prefix), digits,
     * period, algorithm, counter, serial, label. PSKC: RFC 6030 KeyContainer with plaintext
     * secrets (PlainValue); each KeyPackage's DeviceInfo/UserId or Key/UserId names the user.
     */
    importTokens(format: 'csv' | 'pskc', text: string, actor: Actor, progress?: ProgressFn): Promise<ImportReport>;
    /** A new set of backup codes for the user, replacing any earlier set (whose codes stop working). */
    createBackupCodes(username: string, actor: Actor): Promise<BackupCodesResult>;
    /** Activates a pending method with a code from it; `code_rejected` when the code is wrong. */
    confirm(username: string, methodId: string, code: string, actor: Actor): Promise<MethodView>;
    remove(username: string, methodId: string, actor: Actor): Promise<void>;
    /** HOTP resynchronization from two consecutive codes. */
    resync(username: string, methodId: string, code1: string, code2: string, actor: Actor): Promise<MethodView>;
    /**
     * The user's security questions (legacy), replacing any earlier set: exactly 4 distinct
     * questions from QUESTION_IDS, answers of 2 to 128 characters. Only the user sets them, and
     * only while `portal.enrollMethods` offers 'questions' (`forbidden` otherwise).
     */
    setQuestions(username: string, answers: readonly QuestionAnswer[], actor: Actor): Promise<MethodView>;
    /** The questions the user chose (never the answers); empty when they have none. */
    questionsOf(username: string): Promise<QuestionId[]>;
  };
  /** Mobile devices of the push method (services/devices.ts). */
  readonly devices: DevicesService;
  readonly authentications: {
    create(input: CreateAuthenticationInput, actor: Actor): Promise<AuthenticationOutcome>;
    get(id: string): Promise<AuthenticationView>;
    answer(id: string, passcode: string, actor: Actor): Promise<AuthenticationOutcome>;
    /**
     * Answers a user portal sign-in's challenge with security questions instead of a passcode:
     * approved only when at least `portal.questionsAsked` of the user's questions are all answered
     * right. A wrong answer counts toward lockout like a wrong code.
     */
    answerQuestions(id: string, answers: readonly QuestionAnswer[], actor: Actor): Promise<AuthenticationOutcome>;
    /**
     * Resolves a pending out-of-band authentication (a phone call) with the answer the provider's
     * webhook brought back and the token the call carried. `authentication_closed` for a wrong
     * token, an unknown id or an authentication no longer pending, alike.
     */
    resolve(id: string, token: string, response: OutOfBandResponse, actor: Actor): Promise<AuthenticationOutcome>;
    /**
     * Withdraws an unanswered challenge or push / call request when the sign-in goes on with
     * another method: it expires at once (reason `withdrawn`). No effect on one already answered.
     */
    withdraw(id: string, actor: Actor): Promise<void>;
    /**
     * Waits until a pending authentication is answered (on any node) or expires, at most `maxMs`
     * milliseconds, and returns it then. Returns at once for any other state.
     */
    wait(id: string, maxMs: number): Promise<AuthenticationView>;
  };
  readonly bypass: {
    issue(username: string, input: IssueBypassInput, actor: Actor): Promise<BypassView>;
    get(username: string): Promise<BypassView | null>;
    cancel(username: string, actor: Actor): Promise<void>;
  };
  readonly audit: {
    query(query: AuditQuery): Promise<AuditEvent[]>;
  };
  readonly settings: {
    get(): Promise<Settings>;
    update(patch: SettingsPatch, actor: Actor): Promise<Settings>;
  };
  readonly applications: {
    list(): Promise<Application[]>;
    get(name: string): Promise<Application>;
    create(input: Partial<NewApplication> & { name: string }, actor: Actor): Promise<Application>;
    update(name: string, patch: ApplicationPatch, actor: Actor): Promise<Application>;
    delete(name: string, actor: Actor): Promise<void>;
  };
  readonly sessions: {
    /** Starts a session for a user whose first factor passed. `forbidden` if they may not sign in here. */
    start(input: { kind: SessionKind; userId: string; stage: SessionStage; data?: Record<string, unknown>; clientIp?: string | null }): Promise<SessionView>;
    resolve(kind: SessionKind, token: string | undefined): Promise<SessionView | undefined>;
    update(session: SessionView, fields: { stage?: SessionStage; data?: Record<string, unknown> }): Promise<SessionView>;
    /** New token and anti-forgery token, same session (at sign-in). */
    renew(session: SessionView, fields: { stage: SessionStage; data: Record<string, unknown> }): Promise<SessionView>;
    end(token: string): Promise<void>;
    prune(): Promise<number>;
    /**
     * Records a sign-in refused before any session or authentication exists (wrong password, unknown
     * user, no console role...) as an audit event of kind authentication, action `sign_in`, result
     * denied, with the precise reason. The caller shows only "authentication failed".
     */
    refused(refusal: SignInRefusal, actor: Actor): Promise<void>;
  };
  readonly reports: {
    /**
     * Approved, denied and expired authentications from `from` (inclusive) to `to` (exclusive), in
     * UTC hours or days; at most 400 buckets (`validation_failed` otherwise). Defaults: `to` now,
     * `from` 24 buckets before `to`, bucket `hour`.
     */
    signIns(query: { from?: number; to?: number; bucket?: ReportBucket }): Promise<SignInReport>;
    summary(): Promise<DashboardSummary>;
  };
  readonly retention: {
    /**
     * Deletes what the `retention` settings no longer keep and the ended sign-in sessions, a batch
     * at a time (`onProgress` after each); audited as retention.prune when anything went, unless
     * the actor is the system (the server's periodic runs).
     */
    prune(actor: Actor, onProgress?: (done: { readonly authentications: number; readonly auditEvents: number }) => void): Promise<RetentionResult>;
  };
  readonly apiKeys: {
    create(input: { name: string; role: Role }, actor: Actor): Promise<CreatedApiKey>;
    list(): Promise<ApiKeyView[]>;
    revoke(id: string, actor: Actor): Promise<void>;
    /** Resolves a bearer token; undefined for unknown, malformed or revoked keys (constant-time check). */
    authenticate(token: string): Promise<Principal | undefined>;
  };
}

/** What one retention run deleted, and the cut-offs it used (epoch ms; auditBefore null when audit events are kept forever). */
export interface RetentionResult {
  readonly authentications: number;
  readonly auditEvents: number;
  readonly sessions: number;
  readonly auditBefore: number | null;
  readonly authenticationsBefore: number;
}

/** Observes every finished decision (metrics, logs). */
export type AuthenticationListener = (outcome: AuthenticationOutcome, durationMs: number) => void;
