/**
 * Domain types shared by the core, the store and the front doors.
 * Times are epoch milliseconds (numbers); identifiers are opaque strings.
 */

/**
 * What a caller may do. API keys carry one; so do console operators (users with a console role).
 * admin: everything; helpdesk: find users, unlock, bypass, reset methods; auditor: read only;
 * sdk: authentications and user provisioning for integrators.
 */
export type Role = 'admin' | 'sdk' | 'helpdesk' | 'auditor';
export const ROLES = ['admin', 'sdk', 'helpdesk', 'auditor'] as const satisfies readonly Role[];

/** Roles a user may hold in the admin console. */
export type ConsoleRole = 'admin' | 'helpdesk' | 'auditor';
export const CONSOLE_ROLES = ['admin', 'helpdesk', 'auditor'] as const satisfies readonly ConsoleRole[];

/** Method types known to the registry (src/core/methods/index.ts). */
export type MethodType = 'totp' | 'hotp' | 'backup' | 'questions' | 'sms' | 'voice' | 'push';
export const METHOD_TYPES = ['totp', 'hotp', 'backup', 'questions', 'sms', 'voice', 'push'] as const satisfies readonly MethodType[];

export interface Phone {
  /** E.164, e.g. +14155550100 */
  readonly number: string;
  readonly extension: string | null;
  /** ISO 3166-1 alpha-2 country of the number, when known. */
  readonly country: string | null;
}

/** Which of a user's phones. */
export type PhoneWhich = 'phone' | 'backupPhone';

/** A code texted to a user's phone to verify it: only its keyed hash is stored. */
export interface PhoneCode {
  readonly userId: string;
  readonly which: PhoneWhich;
  /** Keyed hash of the code bound to the user, the phone and its number. */
  readonly hash: string;
  readonly sentAt: number;
  readonly expiresAt: number;
  /** Confirmation attempts so far. */
  readonly attempts: number;
}

export type UserSource = { readonly kind: 'local' } | { readonly kind: 'directory'; readonly directory: string; readonly externalId: string };

/** Administrative state: disabled users cannot authenticate. Blocked and locked are separate flags. */
export type UserStatus = 'enabled' | 'disabled';

export interface User {
  readonly id: string;
  readonly username: string;
  readonly displayName: string | null;
  readonly email: string | null;
  readonly phone: Phone | null;
  readonly backupPhone: Phone | null;
  /** When the user proved with a texted code that the primary phone is theirs; cleared when the number changes. */
  readonly phoneVerifiedAt: number | null;
  /** Same for the backup phone. */
  readonly backupPhoneVerifiedAt: number | null;
  readonly language: string;
  readonly status: UserStatus;
  /** Set while blocked by an administrator (or a fraud report). */
  readonly blockedAt: number | null;
  readonly blockedReason: string | null;
  /** Set when the lockout threshold was reached; cleared by unlock or auto-unlock. */
  readonly lockedAt: number | null;
  /** Consecutive failed authentications since the last success or unlock. */
  readonly failedCount: number;
  readonly defaultMethod: MethodType | null;
  readonly pinHash: string | null;
  /** argon2id hash of the local password (first factor); null when the user has none. */
  readonly passwordHash: string | null;
  readonly source: UserSource;
  /** Role in the admin console; null: the user cannot sign in to it. */
  readonly consoleRole: ConsoleRole | null;
  /** RADIUS attributes added to the user's Access-Accepts (VPN policy); empty when none. */
  readonly replyAttributes: readonly ReplyAttribute[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

/**
 * An attribute for a front door's answer, by name, with its value as text (`Class` = `vpn-admins`,
 * `Framed-IP-Address` = `10.8.0.12`). The core keeps names and values as text within limits; the
 * door that sends them knows the protocol and checks them (see ReplyAttributeCheck).
 */
export interface ReplyAttribute {
  readonly name: string;
  readonly value: string;
}

export interface NewUser {
  readonly username: string;
  readonly displayName?: string | null;
  readonly email?: string | null;
  readonly phone?: Phone | null;
  readonly backupPhone?: Phone | null;
  readonly language?: string;
  readonly status?: UserStatus;
  readonly defaultMethod?: MethodType | null;
  readonly pinHash?: string | null;
  readonly passwordHash?: string | null;
  readonly source?: UserSource;
  readonly consoleRole?: ConsoleRole | null;
}

export interface UserPatch {
  readonly username?: string;
  readonly displayName?: string | null;
  readonly email?: string | null;
  readonly phone?: Phone | null;
  readonly backupPhone?: Phone | null;
  readonly language?: string;
  readonly status?: UserStatus;
  readonly defaultMethod?: MethodType | null;
  readonly pinHash?: string | null;
  readonly passwordHash?: string | null;
  readonly consoleRole?: ConsoleRole | null;
  readonly replyAttributes?: readonly ReplyAttribute[];
}

/** The effective state shown to administrators, in order of precedence. */
export type EffectiveStatus = 'disabled' | 'blocked' | 'locked' | 'enabled';

export interface OathConfig {
  readonly algorithm: 'SHA1' | 'SHA256' | 'SHA512';
  /** Code length: 6 to 8 for OATH tokens; 10 for backup codes. */
  readonly digits: 6 | 7 | 8 | 10;
  /** TOTP period in seconds (ignored for HOTP). */
  readonly period: number;
  /** Token serial for hardware tokens. */
  readonly serial: string | null;
  /** 'software' when the server generated the seed, 'imported' for third-party/hardware tokens. */
  readonly origin: 'software' | 'imported';
}

export interface MethodRecord {
  readonly id: string;
  readonly userId: string;
  readonly type: MethodType;
  readonly label: string;
  /** Plaintext secret. The store seals it at rest and opens it on read. */
  readonly secret: Uint8Array;
  readonly config: OathConfig;
  /**
   * Replay guard: the last accepted TOTP time step, or for HOTP the last accepted counter.
   * A code whose step is <= lastStep is refused. Null when never used.
   */
  readonly lastStep: number | null;
  /** Last observed clock drift in steps (TOTP). */
  readonly drift: number;
  /** Set up but not yet confirmed with a code: never used to sign in. */
  readonly pending: boolean;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
}

export interface NewMethod {
  readonly userId: string;
  readonly type: MethodType;
  readonly label: string;
  readonly secret: Uint8Array;
  readonly config: OathConfig;
  /** For HOTP tokens imported mid-life: counter of the last code already used (-1 when fresh). */
  readonly lastStep?: number | null;
  /** Awaits confirmation with a code before it can be used. */
  readonly pending?: boolean;
}

export interface Application {
  readonly id: string;
  readonly name: string;
  /** Unknown users are denied (true) or passed through without a second factor (false). */
  readonly requireUserMatch: boolean;
  /** Extra trusted networks for this application (single address, range a-b, or CIDR). */
  readonly trustedIps: readonly string[];
  /** Seconds an approval is remembered for the same user, application and client address; 0 = off; null = company setting. */
  readonly cacheSeconds: number | null;
  /** Allowed method types; null = all. */
  readonly allowedMethods: readonly MethodType[] | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export type NewApplication = Omit<Application, 'id' | 'createdAt' | 'updatedAt'>;
export type ApplicationPatch = Partial<NewApplication>;

/** Company settings: policy defaults stored in the database and editable at run time. */
export interface Settings {
  readonly lockout: {
    /** Consecutive failures before the account locks. 0 disables lockout. */
    readonly threshold: number;
    /** Seconds after which a locked account unlocks itself; 0 = only an administrator unlocks. */
    readonly autoUnlockSeconds: number;
  };
  readonly bypass: { readonly defaultSeconds: number; readonly maxSeconds: number };
  /** Seconds an approval is remembered (per user, application and client address); 0 = off. */
  readonly cacheSeconds: number;
  /** Trusted networks for every application. */
  readonly trustedIps: readonly string[];
  readonly totp: { readonly window: number };
  readonly hotp: { readonly lookAhead: number };
  /** How long an authentication waits for its passcode before it expires. */
  readonly challengeSeconds: number;
  readonly defaultLanguage: string;
  /** PIN policy, applied whenever a PIN is set. */
  readonly pin: {
    readonly minLength: number;
    readonly maxLength: number;
    /** Refuse PINs of one repeated digit (1111) or a run (1234, 9876). */
    readonly refuseTrivial: boolean;
  };
  /** What users may do in the user portal (/portal). */
  readonly portal: {
    /** Users without a method set one up at their first sign-in. */
    readonly allowEnrollment: boolean;
    /** Method types users may set up themselves ('questions': the legacy security questions). */
    readonly enrollMethods: readonly MethodType[];
    /** Security questions a user answers at a portal sign-in when they use that fallback (of the 4 they chose). */
    readonly questionsAsked: number;
    readonly allowPhoneChange: boolean;
    readonly allowPinChange: boolean;
    readonly allowLanguageChange: boolean;
    /** Users may choose their default method and add or remove authenticators. */
    readonly allowMethodChange: boolean;
    /** Users may start a one-time bypass of their next sign-in. */
    readonly allowBypass: boolean;
    /** Length of a bypass users start themselves. */
    readonly bypassSeconds: number;
    /** A sign-in to the portal from a trusted network skips the second factor. */
    readonly trustedIpsSkipSecondFactor: boolean;
  };
  /** Users reporting a sign-in they did not make ("not me"). */
  readonly fraud: {
    readonly allowReports: boolean;
    /** A report blocks the account until an administrator unblocks it. */
    readonly blockUser: boolean;
  };
  /** Portal and console sign-in sessions. */
  readonly sessions: {
    /** Signed out after this long without a request. */
    readonly idleSeconds: number;
    /** Signed out this long after signing in, whatever the activity. */
    readonly absoluteSeconds: number;
    /** Changes to methods need a second factor at most this old. */
    readonly reauthSeconds: number;
  };
  /** How long records are kept before the server deletes them. */
  readonly retention: {
    /** Audit events (and so the dashboard's history), in days; 0 keeps them forever. */
    readonly auditDays: number;
    /** Authentication records (each sign-in's state, read while it is open and for the cache), in days. */
    readonly authenticationDays: number;
  };
}

export type SettingsPatch = { readonly [K in keyof Settings]?: Settings[K] extends object ? Partial<Settings[K]> : Settings[K] };

export type AuthState = 'challenge' | 'pending' | 'approved' | 'denied' | 'expired';

/** Why an authentication ended as it did. Goes to the audit trail and logs, never to the caller. */
export type AuthReason =
  | 'passcode_ok'
  | 'trusted_ip'
  | 'cached'
  | 'bypass'
  | 'pass_through_unknown_user'
  | 'user_not_found'
  | 'user_disabled'
  | 'user_blocked'
  | 'user_locked'
  | 'no_method'
  | 'method_not_allowed'
  | 'invalid_passcode'
  | 'replayed_passcode'
  | 'malformed_passcode'
  | 'locked_now'
  | 'challenge_issued'
  | 'expired'
  /** An out-of-band method (phone call) was answered with approval. */
  | 'out_of_band_ok'
  /** The user declined the out-of-band request, or hung up without approving. */
  | 'out_of_band_declined'
  /** The user answered the out-of-band request with a fraud report. */
  | 'fraud_reported'
  /** The text message or call could not be handed to the provider (fail closed). */
  | 'delivery_failed'
  /** The push request was approved with a number other than the one shown at sign-in. */
  | 'number_mismatch'
  /** The sign-in went on with another method (a RADIUS menu choice, "Use a code instead"): this request was withdrawn unanswered. */
  | 'withdrawn';

export interface Authentication {
  readonly id: string;
  readonly userId: string | null;
  readonly username: string;
  readonly applicationId: string;
  readonly applicationName: string;
  readonly clientIp: string | null;
  readonly state: AuthState;
  readonly reason: AuthReason;
  readonly methodId: string | null;
  readonly methodType: MethodType | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** When a challenge/pending authentication expires. */
  readonly expiresAt: number;
  /**
   * Keyed hash of what answers this authentication when the method is not the user's own
   * authenticator: the code texted for it (sms), or the token of its call (voice). Null otherwise.
   */
  readonly challengeHash?: string | null;
}

/** A pending push request as its device shows it (the mobile API's answer). */
export interface DeviceRequest {
  readonly id: string;
  readonly application: string;
  readonly clientIp: string | null;
  readonly createdAt: number;
  readonly expiresAt: number;
  /** Three numbers, one of them shown at sign-in, ascending. */
  readonly numbers: readonly number[];
}

export interface Bypass {
  readonly id: string;
  readonly userId: string;
  readonly reason: string;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly usedAt: number | null;
}

export interface ApiKey {
  readonly id: string;
  /** Public part of the key, used to find it: the key is `cs_<lookupId>_<secret>`. */
  readonly lookupId: string;
  /** HMAC-SHA-256 of the secret part under the server's pepper, hex. */
  readonly hash: string;
  readonly name: string;
  readonly role: Role;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
}

export type AuditKind = 'authentication' | 'admin' | 'accounting';

export interface AuditEvent {
  readonly id: number;
  readonly at: number;
  readonly kind: AuditKind;
  /** e.g. 'authenticate', 'user.create', 'user.block', 'method.enroll'. */
  readonly action: string;
  /** 'approved' | 'denied' | 'challenge' | 'expired' for authentications; 'success' | 'failure' for admin actions. */
  readonly result: string;
  readonly reason: string | null;
  readonly username: string | null;
  readonly userId: string | null;
  readonly displayName: string | null;
  readonly email: string | null;
  readonly phone: string | null;
  readonly device: string | null;
  readonly method: string | null;
  readonly mode: string | null;
  readonly application: string | null;
  readonly serverName: string | null;
  readonly clientIp: string | null;
  /** Who did it: 'apikey:<name>', 'cli', 'system'. */
  readonly actor: string | null;
  readonly authenticationId: string | null;
  readonly details: Readonly<Record<string, unknown>> | null;
}

export type NewAuditEvent = Omit<AuditEvent, 'id'>;

export interface AuditQuery {
  readonly username?: string;
  readonly application?: string;
  readonly result?: string;
  readonly kind?: AuditKind;
  /** One action, or any of several (at most 20). */
  readonly action?: string | readonly string[];
  /** Inclusive lower bound, epoch ms. */
  readonly from?: number;
  /** Exclusive upper bound, epoch ms. */
  readonly to?: number;
  /** Return events with id < before (newest first paging). */
  readonly before?: number;
  /** Return events with id > after (oldest first, for tailing). */
  readonly after?: number;
  readonly limit: number;
}

export interface UserQuery {
  /** Case-insensitive substring of username, display name or email. */
  readonly search?: string;
  readonly status?: EffectiveStatus;
  /** Users whose lower-cased username sorts after this (keyset paging). */
  readonly after?: string;
  readonly limit: number;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Cursor for the next page, or null at the end. */
  readonly next: string | number | null;
}
