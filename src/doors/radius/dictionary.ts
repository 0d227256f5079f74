/**
 * The RADIUS dictionary Countersign understands: packet codes, attributes with their numbers and
 * data types (RFC 2865, 2866, 2869, 3162, 3579, 5997) and Microsoft's vendor attributes (RFC 2548).
 *
 * Data types follow the FreeRADIUS dictionary names:
 * - `string`: UTF-8 text (RFC 8044 "text"), read as a JS string;
 * - `octets`: binary data (RFC 8044 "string"), read as a Uint8Array;
 * - `integer`: unsigned 32-bit; `date`: seconds since 1970 as a 32-bit unsigned integer, read as a Date;
 * - `ipaddr`: 4 octets, read as dotted-quad text; `ipv6addr`: 16 octets, read as RFC 5952 text;
 * - `vsa`: Vendor-Specific, a vendor id and the vendor's raw data.
 *
 * An attribute number that is not listed here keeps its raw octets.
 */

export const PACKET_CODES = {
  'Access-Request': 1,
  'Access-Accept': 2,
  'Access-Reject': 3,
  'Accounting-Request': 4,
  'Accounting-Response': 5,
  'Access-Challenge': 11,
  'Status-Server': 12,
  'Status-Client': 13,
} as const;

export type PacketCode = keyof typeof PACKET_CODES;

/** Packet code number -> name, for the codes in PACKET_CODES. */
export const PACKET_CODE_NAMES: ReadonlyMap<number, PacketCode> = new Map(
  (Object.entries(PACKET_CODES) as [PacketCode, number][]).map(([name, code]) => [code, name]),
);

export type DataType = 'string' | 'octets' | 'integer' | 'ipaddr' | 'ipv6addr' | 'date' | 'vsa';

/** A Vendor-Specific attribute's value: the vendor's SMI enterprise number and its raw data. */
export interface VendorSpecific {
  readonly vendorId: number;
  readonly data: Uint8Array;
}

/** The JS type each data type reads as and is written from. */
export interface DataTypeValues {
  string: string;
  octets: Uint8Array;
  integer: number;
  ipaddr: string;
  ipv6addr: string;
  date: Date;
  vsa: VendorSpecific;
}

export interface AttributeSpec {
  readonly type: number;
  readonly dataType: DataType;
}

export const ATTRIBUTES = {
  // RFC 2865
  'User-Name': { type: 1, dataType: 'string' },
  /** Hidden with the shared secret (RFC 2865 section 5.2): see decryptUserPassword. */
  'User-Password': { type: 2, dataType: 'octets' },
  /** CHAP identifier (1 octet) then the 16-octet CHAP response. */
  'CHAP-Password': { type: 3, dataType: 'octets' },
  'NAS-IP-Address': { type: 4, dataType: 'ipaddr' },
  'NAS-Port': { type: 5, dataType: 'integer' },
  'Service-Type': { type: 6, dataType: 'integer' },
  'Framed-Protocol': { type: 7, dataType: 'integer' },
  'Framed-IP-Address': { type: 8, dataType: 'ipaddr' },
  'Framed-IP-Netmask': { type: 9, dataType: 'ipaddr' },
  'Framed-Routing': { type: 10, dataType: 'integer' },
  'Filter-Id': { type: 11, dataType: 'string' },
  'Framed-MTU': { type: 12, dataType: 'integer' },
  'Framed-Compression': { type: 13, dataType: 'integer' },
  'Login-IP-Host': { type: 14, dataType: 'ipaddr' },
  'Login-Service': { type: 15, dataType: 'integer' },
  'Login-TCP-Port': { type: 16, dataType: 'integer' },
  'Reply-Message': { type: 18, dataType: 'string' },
  'Callback-Number': { type: 19, dataType: 'string' },
  'Callback-Id': { type: 20, dataType: 'string' },
  'Framed-Route': { type: 22, dataType: 'string' },
  State: { type: 24, dataType: 'octets' },
  Class: { type: 25, dataType: 'octets' },
  'Vendor-Specific': { type: 26, dataType: 'vsa' },
  'Session-Timeout': { type: 27, dataType: 'integer' },
  'Idle-Timeout': { type: 28, dataType: 'integer' },
  'Termination-Action': { type: 29, dataType: 'integer' },
  'Called-Station-Id': { type: 30, dataType: 'string' },
  'Calling-Station-Id': { type: 31, dataType: 'string' },
  'NAS-Identifier': { type: 32, dataType: 'string' },
  'Proxy-State': { type: 33, dataType: 'octets' },
  'CHAP-Challenge': { type: 60, dataType: 'octets' },
  'NAS-Port-Type': { type: 61, dataType: 'integer' },
  'Port-Limit': { type: 62, dataType: 'integer' },
  // RFC 2866
  'Acct-Status-Type': { type: 40, dataType: 'integer' },
  'Acct-Delay-Time': { type: 41, dataType: 'integer' },
  'Acct-Input-Octets': { type: 42, dataType: 'integer' },
  'Acct-Output-Octets': { type: 43, dataType: 'integer' },
  'Acct-Session-Id': { type: 44, dataType: 'string' },
  'Acct-Authentic': { type: 45, dataType: 'integer' },
  'Acct-Session-Time': { type: 46, dataType: 'integer' },
  'Acct-Input-Packets': { type: 47, dataType: 'integer' },
  'Acct-Output-Packets': { type: 48, dataType: 'integer' },
  'Acct-Terminate-Cause': { type: 49, dataType: 'integer' },
  'Acct-Multi-Session-Id': { type: 50, dataType: 'string' },
  'Acct-Link-Count': { type: 51, dataType: 'integer' },
  // RFC 2869
  'Acct-Input-Gigawords': { type: 52, dataType: 'integer' },
  'Acct-Output-Gigawords': { type: 53, dataType: 'integer' },
  'Event-Timestamp': { type: 55, dataType: 'date' },
  'Password-Retry': { type: 75, dataType: 'integer' },
  Prompt: { type: 76, dataType: 'integer' },
  'Connect-Info': { type: 77, dataType: 'string' },
  'EAP-Message': { type: 79, dataType: 'octets' },
  /** HMAC-MD5 of the packet (RFC 3579 section 3.2); always 16 octets. */
  'Message-Authenticator': { type: 80, dataType: 'octets' },
  'Acct-Interim-Interval': { type: 85, dataType: 'integer' },
  'NAS-Port-Id': { type: 87, dataType: 'string' },
  'Framed-Pool': { type: 88, dataType: 'string' },
  // RFC 3162
  'NAS-IPv6-Address': { type: 95, dataType: 'ipv6addr' },
  'Login-IPv6-Host': { type: 98, dataType: 'ipv6addr' },
} as const satisfies Record<string, AttributeSpec>;

export type AttributeName = keyof typeof ATTRIBUTES;
export type AttributeValue<N extends AttributeName> = DataTypeValues[(typeof ATTRIBUTES)[N]['dataType']];

/** Attribute number -> name, for the attributes in ATTRIBUTES (logs and diagnostics). */
export const ATTRIBUTE_NAMES: ReadonlyMap<number, AttributeName> = new Map(
  (Object.entries(ATTRIBUTES) as [AttributeName, AttributeSpec][]).map(([name, spec]) => [spec.type, name]),
);

export const MESSAGE_AUTHENTICATOR = ATTRIBUTES['Message-Authenticator'].type;
export const VENDOR_SPECIFIC = ATTRIBUTES['Vendor-Specific'].type;
export const USER_PASSWORD = ATTRIBUTES['User-Password'].type;

export const VENDORS = {
  Microsoft: 311,
} as const;

export interface VendorAttributeSpec {
  readonly vendorId: number;
  readonly type: number;
  readonly dataType: Exclude<DataType, 'vsa'>;
}

/** Vendor attributes in the standard format (vendor type, vendor length, value) of RFC 2865 section 5.26. */
export const VENDOR_ATTRIBUTES = {
  // RFC 2548
  'MS-CHAP-Response': { vendorId: 311, type: 1, dataType: 'octets' },
  'MS-CHAP-Error': { vendorId: 311, type: 2, dataType: 'string' },
  'MS-CHAP-CPW-1': { vendorId: 311, type: 3, dataType: 'octets' },
  'MS-CHAP-CPW-2': { vendorId: 311, type: 4, dataType: 'octets' },
  'MS-CHAP-LM-Enc-PW': { vendorId: 311, type: 5, dataType: 'octets' },
  'MS-CHAP-NT-Enc-PW': { vendorId: 311, type: 6, dataType: 'octets' },
  'MS-MPPE-Encryption-Policy': { vendorId: 311, type: 7, dataType: 'integer' },
  'MS-MPPE-Encryption-Types': { vendorId: 311, type: 8, dataType: 'integer' },
  'MS-RAS-Vendor': { vendorId: 311, type: 9, dataType: 'integer' },
  'MS-CHAP-Domain': { vendorId: 311, type: 10, dataType: 'string' },
  'MS-CHAP-Challenge': { vendorId: 311, type: 11, dataType: 'octets' },
  'MS-CHAP-MPPE-Keys': { vendorId: 311, type: 12, dataType: 'octets' },
  /** Salt-encrypted (RFC 2548 section 2.4.2): see decryptSaltedValue. */
  'MS-MPPE-Send-Key': { vendorId: 311, type: 16, dataType: 'octets' },
  /** Salt-encrypted (RFC 2548 section 2.4.3): see decryptSaltedValue. */
  'MS-MPPE-Recv-Key': { vendorId: 311, type: 17, dataType: 'octets' },
  'MS-CHAP2-Response': { vendorId: 311, type: 25, dataType: 'octets' },
  'MS-CHAP2-Success': { vendorId: 311, type: 26, dataType: 'octets' },
  'MS-CHAP2-CPW': { vendorId: 311, type: 27, dataType: 'octets' },
  'MS-Primary-DNS-Server': { vendorId: 311, type: 28, dataType: 'ipaddr' },
  'MS-Secondary-DNS-Server': { vendorId: 311, type: 29, dataType: 'ipaddr' },
} as const satisfies Record<string, VendorAttributeSpec>;

export type VendorAttributeName = keyof typeof VENDOR_ATTRIBUTES;
export type VendorAttributeValue<N extends VendorAttributeName> = DataTypeValues[(typeof VENDOR_ATTRIBUTES)[N]['dataType']];

/** Named values of a few integer attributes. */
export const SERVICE_TYPE = {
  Login: 1,
  Framed: 2,
  'Callback-Login': 3,
  'Callback-Framed': 4,
  Outbound: 5,
  Administrative: 6,
  'NAS-Prompt': 7,
  'Authenticate-Only': 8,
  'Callback-NAS-Prompt': 9,
  'Call-Check': 10,
  'Callback-Administrative': 11,
} as const;

export const ACCT_STATUS_TYPE = {
  Start: 1,
  Stop: 2,
  'Interim-Update': 3,
  'Accounting-On': 7,
  'Accounting-Off': 8,
} as const;

/** Whether the NAS should echo the user's answer to an Access-Challenge (RFC 2869 section 5.10). */
export const PROMPT = {
  'No-Echo': 0,
  Echo: 1,
} as const;
