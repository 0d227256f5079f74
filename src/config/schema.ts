/**
 * The one configuration schema of Countersign.
 *
 * Every option is declared here once, with its type, default and description. The loader
 * (load.ts) validates against it, `countersign init` writes a commented file from it, and
 * `npm run docs:config` turns it into docs/configuration.md.
 *
 * Sources, lowest precedence first: these defaults, the YAML file (`countersign.yaml`), then
 * environment variables `COUNTERSIGN_<PATH>` (e.g. `COUNTERSIGN_SERVER_PORT`) and
 * `COUNTERSIGN_<PATH>_FILE` (the value is read from that file; for secrets).
 *
 * Two annotations beyond JSON Schema are used by the loader and the generators:
 * - `x-path: true`: a file path; a relative value resolves against the config file's folder.
 * - `x-default-text`: how to describe a default that depends on the machine (for docs and init).
 * - `x-network: true`: an IP address or CIDR range.
 */
import os from 'node:os';
import Type, { type Static } from 'typebox';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const pathOption = (defaultValue: string, description: string) => Type.String({ minLength: 1, default: defaultValue, description, 'x-path': true });

const TlsSchema = Type.Object(
  {
    cert: pathOption('tls/cert.pem', 'PEM certificate (with any intermediate certificates) served over HTTPS.'),
    key: pathOption('tls/key.pem', 'PEM private key of the certificate. Keep it readable by the service account only.'),
  },
  { additionalProperties: false, default: {}, description: 'TLS certificate and key for HTTPS.' },
);

const ServerSchema = Type.Object(
  {
    host: Type.String({
      minLength: 1,
      default: '0.0.0.0',
      description: 'Address the HTTPS listener binds to. `0.0.0.0` listens on every IPv4 interface, `::` on every interface.',
    }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 8443, description: 'TCP port of the HTTPS listener.' }),
    tls: TlsSchema,
    plainHttp: Type.Boolean({
      default: false,
      description:
        'Serve plain HTTP instead of HTTPS, e.g. behind a TLS-terminating reverse proxy on the same machine. Refused on a non-loopback host unless `server.allowInsecurePublicHttp` is set.',
    }),
    allowInsecurePublicHttp: Type.Boolean({
      default: false,
      description:
        'Allow `server.plainHttp` on a non-loopback address. API keys and passcodes then cross the network unencrypted; the server warns loudly at start.',
    }),
    trustProxy: Type.Array(Type.String({ minLength: 1, 'x-network': true }), {
      default: [],
      description:
        'Addresses or CIDR ranges of reverse proxies whose `X-Forwarded-For` header is believed. Empty: the header is ignored and the peer address is the client address.',
    }),
    serverName: Type.String({
      minLength: 1,
      default: os.hostname(),
      'x-default-text': 'the machine host name',
      description: 'Name of this server, recorded in every audit event (useful with several nodes).',
    }),
  },
  { additionalProperties: false, default: {}, description: 'The HTTPS listener.' },
);

const DatabaseSchema = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      default: 'sqlite:./countersign.db',
      'x-path': true,
      description:
        'Where data lives: `sqlite:PATH` for an embedded SQLite file (a relative PATH resolves against the config file folder), or `postgres://user:password@host:5432/database` for PostgreSQL (use `COUNTERSIGN_DATABASE_URL_FILE` to keep the password out of the file).',
    }),
  },
  { additionalProperties: false, default: {}, description: 'The database.' },
);

const KeysSchema = Type.Object(
  {
    file: pathOption(
      './countersign.key',
      'Key file that seals secrets (OATH seeds) at rest and peppers API key hashes. Not stored in the database: back it up separately and keep it mode 0600.',
    ),
  },
  { additionalProperties: false, default: {}, description: 'Encryption keys.' },
);

const LogSchema = Type.Object(
  {
    level: Type.Union(
      LOG_LEVELS.map((l) => Type.Literal(l)),
      { default: 'info', description: 'Least severe level written to the log (JSON lines on standard output).' },
    ),
    pretty: Type.Optional(Type.Boolean({ default: false, description: 'Human-readable log lines instead of JSON (for a terminal, not for production).' })),
  },
  { additionalProperties: false, default: {}, description: 'Logging.' },
);

const RateLimitSchema = Type.Object(
  {
    perKeyPerMinute: Type.Integer({
      minimum: 1,
      maximum: 100_000_000,
      default: 60000,
      description: 'Requests per minute allowed for one API key before it receives HTTP 429.',
    }),
    perAddressPerMinute: Type.Integer({
      minimum: 1,
      maximum: 100_000_000,
      default: 600,
      description: 'Requests per minute allowed from one client address (unauthenticated and authenticated alike).',
    }),
  },
  { additionalProperties: false, default: {}, description: 'HTTP rate limits.' },
);

const MetricsSchema = Type.Object(
  {
    allowFrom: Type.Array(Type.String({ minLength: 1, 'x-network': true }), {
      default: [],
      description: 'Addresses or CIDR ranges allowed to read `/metrics` (Prometheus), besides loopback, which always may.',
    }),
  },
  { additionalProperties: false, default: {}, description: 'Prometheus metrics.' },
);

const attributeName = (description: string) => Type.Optional(Type.String({ minLength: 1, description }));

const DirectoryAttributesSchema = Type.Object(
  {
    login: attributeName('Login name attribute (preset: `sAMAccountName` / `uid`).'),
    loginFallback: attributeName('Used when the login attribute is absent (preset: `userPrincipalName` / none).'),
    externalId: attributeName('Stable id that survives renames (preset: `objectGUID` / `entryUUID`).'),
    displayName: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { description: 'Display name attributes, first present wins (preset: `displayName`, `cn`).' }),
    ),
    email: attributeName('E-mail attribute (preset: `mail`).'),
    phone: attributeName('Primary phone attribute, where texts and calls go (preset: `mobile`).'),
    backupPhone: attributeName('Backup phone attribute (preset: `telephoneNumber`).'),
    language: attributeName('Preferred language attribute (preset: `preferredLanguage`).'),
    userFilter: attributeName('LDAP filter selecting user accounts, in parentheses (preset: `(sAMAccountType=805306368)` / `(objectClass=inetOrgPerson)`).'),
    groupMembership: Type.Optional(
      Type.Union([Type.Literal('inChain'), Type.Literal('memberOf'), Type.Literal('member')], {
        description: 'How `--group` finds members (preset: `inChain` / `member`).',
      }),
    ),
  },
  { additionalProperties: false, description: "Attribute names that replace the preset's (each optional)." },
);

const SyncItemSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'Name of the item (letters, digits, `.`, `_`, `-`), shown in run reports. Required.' }),
    ou: Type.Optional(Type.String({ minLength: 1, description: 'Scope: every user in the subtree of this DN.' })),
    group: Type.Optional(Type.String({ minLength: 1, description: 'Scope: the members of this group (nested groups included).' })),
    filter: Type.Optional(Type.String({ minLength: 1, description: 'Scope: users matching this LDAP filter, in parentheses, e.g. `(department=Sales)`.' })),
    attributes: Type.Optional(DirectoryAttributesSchema),
    language: Type.Optional(Type.String({ minLength: 2, description: "Language of new users when the directory has none, e.g. `en`." })),
    defaultMethod: Type.Optional(
      Type.Union([Type.Literal('totp'), Type.Literal('hotp')], { description: 'Default second-factor method of new users.' }),
    ),
  },
  { additionalProperties: false, description: 'One sync item: exactly one of `ou`, `group` or `filter`.' },
);

const SyncSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Run on the schedule. `false` keeps "synchronize now" only.' }),
    intervalMinutes: Type.Integer({ minimum: 1, maximum: 1440, default: 60, description: 'Minutes between scheduled runs (1 to 1440).' }),
    fullSyncHours: Type.Integer({
      minimum: 1,
      maximum: 168,
      default: 24,
      description: 'A scheduled run is a full run (which also finds removed users) when the last full run is older than this; the others are incremental.',
    }),
    removal: Type.Union([Type.Literal('disable'), Type.Literal('delete'), Type.Literal('none')], {
      default: 'disable',
      description: 'What happens to users no longer in any item (moved, filtered out or deleted in the directory): `disable`, `delete` or `none`.',
    }),
    removalThreshold: Type.Integer({
      minimum: 0,
      maximum: 1_000_000,
      default: 5,
      description: 'When more users than this would be disabled or removed in one run, none is: the run waits for an administrator (`countersign directory approve`).',
    }),
    changeAttribute: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Change marker for incremental runs (preset: `uSNChanged` / `entryCSN`); `modifyTimestamp` works everywhere; `none` makes every run full.',
      }),
    ),
    items: Type.Array(SyncItemSchema, { minItems: 1, description: 'Sync items in priority order: a user in several items is taken by the first.' }),
  },
  { additionalProperties: false, description: 'Scheduled synchronization of this source.' },
);

const DirectorySchema = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      description:
        'Name of the source (letters, digits, `.`, `_`, `-`), used on the command line and stored with imported users. Do not rename a source that has imported users. Required.',
    }),
    urls: Type.Array(Type.String({ minLength: 1 }), {
      description: '`ldap://` or `ldaps://` URLs, tried in order (primary first, then backups). Required.',
    }),
    bindDn: Type.String({ minLength: 1, description: 'DN of the service account used to search the directory. Required.' }),
    bindPassword: Type.Optional(
      Type.String({ minLength: 1, description: 'Password of the service account. Prefer `bindPasswordFile`. Exactly one of the two is required.' }),
    ),
    bindPasswordFile: Type.Optional(
      Type.String({
        minLength: 1,
        'x-path': true,
        description: 'File holding the service account password (container secrets); one trailing newline is dropped.',
      }),
    ),
    baseDn: Type.String({ minLength: 1, description: 'Subtree searched for users. Required.' }),
    startTls: Type.Boolean({ default: false, description: 'Upgrade `ldap://` connections with StartTLS before any bind (ignored for `ldaps://`).' }),
    caFile: Type.Optional(
      Type.String({ minLength: 1, 'x-path': true, description: 'PEM file of the CA(s) that issued the directory certificate. Default: the system CAs.' }),
    ),
    rejectUnauthorized: Type.Boolean({ default: true, description: 'Verify the directory certificate chain and host name. Turn off for tests only.' }),
    timeoutMs: Type.Integer({
      minimum: 100,
      maximum: 120_000,
      default: 5000,
      description: 'Per-URL connect timeout and per-operation timeout, in milliseconds.',
    }),
    preset: Type.Union([Type.Literal('activeDirectory'), Type.Literal('openldap')], {
      default: 'openldap',
      description: 'Attribute preset: `activeDirectory` (sAMAccountName, objectGUID, userAccountControl) or `openldap` (uid, entryUUID).',
    }),
    attributes: Type.Optional(DirectoryAttributesSchema),
    pageSize: Type.Integer({ minimum: 1, maximum: 1000, default: 500, description: 'Entries per page of the paged results control.' }),
    phoneCountry: Type.Optional(
      Type.String({
        minLength: 2,
        description: 'Two-letter country (`US`) for phone numbers written without `+country`. Default: such numbers are dropped with a warning.',
      }),
    ),
    sync: Type.Optional(SyncSchema),
  },
  { additionalProperties: false, description: 'One directory source.' },
);

const DirectoriesSchema = Type.Array(DirectorySchema, {
  default: [],
  examples: [
    [
      {
        name: 'corp-ad',
        preset: 'activeDirectory',
        urls: ['ldaps://dc1.corp.example.com', 'ldaps://dc2.corp.example.com'],
        bindDn: 'CN=svc-countersign,OU=Service Accounts,DC=corp,DC=example,DC=com',
        bindPasswordFile: '/etc/countersign/ad-bind-password',
        baseDn: 'DC=corp,DC=example,DC=com',
        caFile: '/etc/countersign/corp-ca.pem',
      },
    ],
  ],
  description:
    'LDAP directory sources (Active Directory, OpenLDAP) for `countersign directory test`, `search` and `import`. Set with care through the environment: `COUNTERSIGN_DIRECTORIES` takes a JSON list.',
});

const secretFields = (what: string) => ({
  secret: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: `Shared secret ${what} (1 to 128 characters; use more than 12). Prefer \`secretFile\`. Exactly one of the two is required.` })),
  secretFile: Type.Optional(
    Type.String({ minLength: 1, 'x-path': true, description: 'File holding the shared secret (container secrets); one trailing newline is dropped.' }),
  ),
});

const RadiusUpstreamSchema = Type.Object(
  {
    host: Type.String({ minLength: 1, description: 'Address or host name of the upstream RADIUS server (NPS, FreeRADIUS). Required.' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 1812, description: 'UDP port of the upstream server.' }),
    ...secretFields('with the upstream server'),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 3000, description: 'How long to wait for each upstream answer, in milliseconds.' }),
    retries: Type.Integer({ minimum: 0, maximum: 5, default: 2, description: 'Retransmissions to the upstream server before giving up (the request is then rejected).' }),
  },
  { additionalProperties: false, description: 'Upstream RADIUS server for first factors Countersign cannot check itself (MS-CHAPv2, EAP) or for `firstFactor: radius`.' },
);

const RadiusReplyAttributeSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'Attribute name, e.g. `Class`, `Filter-Id`, `Session-Timeout`. Required.' }),
    value: Type.String({ description: 'Its value as text: `vpn-users`, `3600` for an integer attribute, `10.8.0.0` for an address. Required.' }),
  },
  { additionalProperties: false, description: 'An attribute added to every Access-Accept for this client.' },
);

const RadiusClientSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'Name of the client (letters, digits, `.`, `_`, `-`), in logs and the audit trail. Required.' }),
    addresses: Type.Array(Type.String({ minLength: 1, 'x-network': true }), {
      minItems: 1,
      description: 'Addresses or CIDR ranges the client sends from (IPv4 or IPv6). Packets from any other address get no answer. Required.',
    }),
    ...secretFields('with this client'),
    application: Type.Optional(
      Type.String({ minLength: 1, description: 'Countersign application the requests belong to (shown in texts and push notifications, with its own policy). Default: the client name.' }),
    ),
    requireMessageAuthenticator: Type.Boolean({
      default: true,
      description: 'Drop Access-Requests without a valid Message-Authenticator (Blast-RADIUS, CVE-2024-3596). Turn off only for clients that cannot send one.',
    }),
    firstFactor: Type.String({
      minLength: 1,
      default: 'user',
      description:
        'How the password is checked: `user` (the user\'s directory or local password), `local`, `directory:<name>`, `upstream` (the upstream RADIUS server; MS-CHAPv2 and EAP are always forwarded there), or `none` (second factor only).',
    }),
    mode: Type.Union([Type.Literal('challenge'), Type.Literal('append'), Type.Literal('passcode')], {
      default: 'challenge',
      description:
        '`challenge`: password, then an Access-Challenge asking for the code; `append`: password and code in one field (see `appendDelimiter`); `passcode`: the password field holds only the code.',
    }),
    appendDelimiter: Type.Optional(
      Type.String({ minLength: 1, maxLength: 1, description: 'In append mode, the character between password and code (e.g. `,`). Default: the code is the last `appendCodeLength` characters.' }),
    ),
    appendCodeLength: Type.Integer({ minimum: 4, maximum: 10, default: 6, description: 'In append mode without a delimiter, how many trailing characters are the code.' }),
    holdSeconds: Type.Integer({
      minimum: 5,
      maximum: 300,
      default: 60,
      description: "How long an Access-Request waits for the answer of a phone call before it is rejected. Set the client's RADIUS timeout a little longer (retransmissions are answered from the same wait).",
    }),
    upstream: Type.Optional(RadiusUpstreamSchema),
    replyAttributes: Type.Array(RadiusReplyAttributeSchema, { default: [], description: 'Attributes added to every Access-Accept (VPN policy: `Class`, `Filter-Id`, ...).' }),
    groupReplyAttributes: Type.Array(
      Type.Object(
        {
          directory: Type.String({ minLength: 1, description: 'Directory source that holds the group. Required.' }),
          group: Type.String({ minLength: 1, description: 'DN of the group (nested membership counts). Required.' }),
          attributes: Type.Array(RadiusReplyAttributeSchema, { minItems: 1, description: 'Added to the Access-Accept of the group\'s members. Required.' }),
        },
        { additionalProperties: false, description: 'Reply attributes for the members of one directory group.' },
      ),
      {
        default: [],
        description:
          'Reply attributes by directory group, checked at each Access-Accept (e.g. `Class: admins` for VPN admins). When the directory cannot be asked, the group\'s attributes are left out.',
      },
    ),
  },
  { additionalProperties: false, description: 'One RADIUS client (a VPN concentrator, RD Gateway / NPS, a Wi-Fi controller).' },
);

const RadiusSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: false, description: 'Answer RADIUS (UDP).' }),
    listen: Type.Array(Type.String({ minLength: 1, 'x-network': true }), {
      default: ['0.0.0.0', '::'],
      description: 'Addresses to listen on (IPv4 and IPv6).',
    }),
    authPort: Type.Integer({ minimum: 1, maximum: 65535, default: 1812, description: 'UDP port for Access-Requests.' }),
    acctPort: Type.Integer({ minimum: 0, maximum: 65535, default: 1813, description: 'UDP port for Accounting-Requests (0: accounting off).' }),
    challengeSeconds: Type.Integer({ minimum: 10, maximum: 900, default: 120, description: 'How long the code may be entered after an Access-Challenge.' }),
    clients: Type.Array(RadiusClientSchema, { default: [], description: 'RADIUS clients, matched by source address (the first match wins).' }),
  },
  { additionalProperties: false, default: {}, description: 'RADIUS server: MFA for VPNs, RD Gateway and network devices.' },
);

const FirstFactorName = (what: string) =>
  Type.String({
    minLength: 1,
    default: 'user',
    description: `First factor of ${what} sign-in: \`user\` (a directory user's directory password by an LDAP bind, a local user's local password), \`local\` (local passwords only) or \`directory:<name>\` (a bind to one directory source).`,
  });

const PortalSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Serve the user portal at `/portal` (sign-in, enrollment, self-service).' }),
    firstFactor: FirstFactorName('portal'),
    signInPerMinute: Type.Integer({ minimum: 1, maximum: 100_000, default: 20, description: 'Portal sign-in attempts per minute per client address (on top of the account lockout).' }),
  },
  { additionalProperties: false, default: {}, description: 'The user portal. What users may do there is in the company settings (`portal.*`).' },
);

const ConsoleSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Serve the admin console at `/admin`. The REST API works either way.' }),
    firstFactor: FirstFactorName('console'),
  },
  { additionalProperties: false, default: {}, description: 'The admin console (users with a console role sign in with a password and a second factor).' },
);

const GatewaySiteSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'Name of the site (letters, digits, `.`, `_`, `-`), shown on the sign-in page and in logs. Required.' }),
    application: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Countersign application whose policy applies (allowed methods, trusted networks that skip the second factor) and whose name the audit trail shows. Default: the site name; it is created on first start if missing.',
      }),
    ),
    origins: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description: 'Where the site is reached: `https://wiki.example.com`, `https://intranet.example.com:8443`. Picks the site of a request and limits where sign-in may redirect to. Required.',
    }),
    publicPaths: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description: 'Paths reachable without signing in: `/static/**` (everything under), `/health` (exactly), `/api/*/status` (one segment). Case-sensitive; ambiguous paths (encoded slashes, dot segments, double encoding) are never public.',
    }),
    deniedNetworks: Type.Array(Type.String({ minLength: 1, 'x-network': true }), { default: [], description: 'Client networks refused outright (403), signed in or not.' }),
    pathRules: Type.Array(
      Type.Object(
        {
          paths: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Paths the rule covers, like `publicPaths`. Required.' }),
          deniedNetworks: Type.Array(Type.String({ minLength: 1, 'x-network': true }), { default: [], description: 'Clients refused (403) on these paths.' }),
          allowedNetworks: Type.Array(Type.String({ minLength: 1, 'x-network': true }), { default: [], description: 'When given: only these clients may reach these paths (others get 403).' }),
        },
        { additionalProperties: false },
      ),
      { default: [], description: 'Access rules by path, e.g. `/admin/**` only from the office network. A path that could be read two ways meets every rule.' },
    ),
    groups: Type.Array(
      Type.Object(
        {
          name: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9._ -]{1,64}$', description: 'Name sent in `Remote-Groups`. Required.' }),
          directory: Type.String({ minLength: 1, description: 'Directory source that holds the group. Required.' }),
          group: Type.String({ minLength: 1, description: 'DN of the group (nested membership counts). Required.' }),
        },
        { additionalProperties: false },
      ),
      {
        default: [],
        description: 'Directory groups passed to the application in `Remote-Groups` (comma-separated names) when the user is a member, checked at each sign-in to the site. A group whose directory cannot be asked is left out.',
      },
    ),
    denialPage: Type.String({
      default: '',
      'x-path': true,
      description: 'HTML file shown (403) when a sign-in to this site is denied for good. Empty: the sign-in page with the failure.',
    }),
    proxy: Type.Optional(
      Type.Object(
        {
          listen: Type.String({ minLength: 1, pattern: '^(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$', description: 'Address and port of this site\'s listener: `0.0.0.0:9443`, `[::]:9443`. Required.' }),
          upstream: Type.String({ minLength: 1, pattern: '^https?://[^/?#]+/?$', description: 'The application: `http://10.0.0.21:8080`. Required.' }),
          mode: Type.Union([Type.Literal('session'), Type.Literal('form'), Type.Literal('basic')], {
            default: 'session',
            description:
              '`session`: every request needs a gateway sign-in (public paths excepted); `form`: the application\'s own login form is intercepted and completed with a second factor; `basic`: an HTTP Basic site gets a second factor after its password.',
          }),
          form: Type.Optional(
            Type.Object(
              {
                loginPath: Type.String({ minLength: 1, pattern: '^/', description: 'Path of the login page (where the form is read from when the fields below are left out). Required.' }),
                submitPath: Type.Optional(Type.String({ minLength: 1, pattern: '^/', description: 'Path the form posts to. Default: read from the form.' })),
                usernameField: Type.Optional(Type.String({ minLength: 1, description: 'Name of the username field. Default: read from the form.' })),
                passwordField: Type.Optional(Type.String({ minLength: 1, description: 'Name of the password field. Default: read from the form.' })),
                domainField: Type.Optional(Type.String({ minLength: 1, description: 'Name of a domain field, if the form has one. Default: read from the form.' })),
                checkFirstFactor: Type.Boolean({ default: false, description: 'Check the password against the directory (`gateway.firstFactor`) before the application sees it.' }),
              },
              { additionalProperties: false, description: 'Form-based interception (mode `form`).' },
            ),
          ),
          basicCheckFirstFactor: Type.Boolean({ default: false, description: 'Mode `basic`: check the password against the directory before asking for a code.' }),
          tls: Type.Boolean({ default: true, description: 'Serve HTTPS with the server certificate (`server.tls.cert`, `server.tls.key`). Off: plain HTTP, behind a TLS-terminating load balancer only.' }),
        },
        { additionalProperties: false, description: 'The built-in reverse proxy for this site, when no other proxy is in front of the application.' },
      ),
    ),
    cacheSeconds: Type.Integer({
      minimum: 60,
      maximum: 604_800,
      default: 3600,
      description: 'How long a second factor is remembered for this site (the cookie cache); after it, the next request asks for a new code. Sessions also end on `sessions.idleSeconds` and `sessions.absoluteSeconds`.',
    }),
  },
  { additionalProperties: false, description: 'A web site behind the gateway.' },
);

const GatewaySchema = Type.Object(
  {
    enabled: Type.Boolean({ default: false, description: 'Serve the web gateway at `/gateway`: forward-auth decisions for nginx, Traefik, Caddy and HAProxy, and their sign-in pages.' }),
    firstFactor: FirstFactorName('gateway'),
    proxies: Type.Array(Type.String({ minLength: 1, 'x-network': true }), {
      default: ['127.0.0.1', '::1'],
      description: 'Addresses or CIDRs of the reverse proxies: only they get decisions (others get 403), and only their `X-Forwarded-For` is believed.',
    }),
    url: Type.String({
      default: '',
      pattern: '^(https?://[^/?#]+/?)?$',
      description: 'Public address of one sign-in host for every site (`https://auth.example.com`), used with `cookieDomain`. Empty: each site signs in on its own origin (the proxy forwards `/gateway/` to Countersign).',
    }),
    cookieDomain: Type.String({
      default: '',
      pattern: '^[A-Za-z0-9.-]*$',
      description: 'Domain the session cookie is shared under (`example.com`: one sign-in for every site below it). Empty: a host-only `__Host-` cookie per site origin.',
    }),
    signInPerMinute: Type.Integer({ minimum: 1, maximum: 100_000, default: 20, description: 'Gateway sign-in attempts per minute per client address (on top of the account lockout).' }),
    decisionCacheMs: Type.Integer({
      minimum: 0,
      maximum: 10_000,
      default: 1000,
      description:
        'How long decisions may reuse a session read from the database, in milliseconds: the requests of one page load cost one read. A sign-out on the same node applies at once; a sign-out on another node or a blocked account within this time. 0: every decision reads the database.',
    }),
    sites: Type.Array(GatewaySiteSchema, { default: [], description: 'The protected sites.' }),
  },
  { additionalProperties: false, default: {}, description: 'The web gateway: MFA in front of web applications through a reverse proxy (see docs/gateway.md).' },
);

const SmsSchema = Type.Object(
  {
    provider: Type.Union([Type.Literal('none'), Type.Literal('twilio')], {
      default: 'none',
      description: 'Who delivers text messages (phone verification codes): `none` (no SMS; the portal offers no verification) or `twilio`.',
    }),
    twilio: Type.Object(
      {
        accountSid: Type.String({ default: '', description: 'Twilio account SID (`AC...`). Required with provider `twilio`.' }),
        authToken: Type.String({
          default: '',
          description: 'Twilio auth token. Required with provider `twilio`. Keep it out of the file: set `COUNTERSIGN_SMS_TWILIO_AUTH_TOKEN_FILE` to a file holding it.',
        }),
        from: Type.String({ default: '', description: 'Sender: a Twilio phone number in E.164 (`+15005550006`) or a messaging service SID (`MG...`). Required with provider `twilio`.' }),
        baseUrl: Type.String({ minLength: 1, default: 'https://api.twilio.com', description: 'Base URL of the Twilio REST API (change it for a regional edge or a test double only).' }),
      },
      { additionalProperties: false, default: {}, description: 'Twilio account (provider `twilio`).' },
    ),
  },
  { additionalProperties: false, default: {}, description: 'Text messages (SMS). Failures are never ignored: a code that cannot be sent is reported to the user, nothing is verified.' },
);

const VoiceSchema = Type.Object(
  {
    provider: Type.Union([Type.Literal('none'), Type.Literal('twilio')], {
      default: 'none',
      description: 'Who places the calls of the phone-call method: `none` (no calls; users with that method are refused) or `twilio`, with the account of `sms.twilio`.',
    }),
    from: Type.String({ default: '', description: 'Caller ID: a voice-capable Twilio number in E.164. Default: `sms.twilio.from` when that is a number.' }),
    callbackUrl: Type.String({
      default: '',
      description: 'Public https:// base URL of this server that Twilio reaches to report the key pressed (`{callbackUrl}/voice/v1/calls/...`). Required with provider `twilio`.',
    }),
    ringSeconds: Type.Integer({ minimum: 5, maximum: 60, default: 30, description: 'How long the phone rings before the call counts as unanswered.' }),
  },
  { additionalProperties: false, default: {}, description: 'Phone calls (the voice method): the user presses # to approve or 0 to report fraud. A call that cannot be placed denies the sign-in.' },
);

/** The push services of the browsers the authenticator app runs in (Chrome, Edge, Firefox, Safari). */
export const DEFAULT_PUSH_SERVICES = ['fcm.googleapis.com', 'updates.push.services.mozilla.com', 'web.push.apple.com', '*.notify.windows.com'];

const PushSchema = Type.Object(
  {
    provider: Type.Union([Type.Literal('none'), Type.Literal('webpush')], {
      default: 'none',
      description:
        'Who wakes the authenticator app for a push sign-in: `none` (no notifications) or `webpush`, through the push service of the browser the app was installed from (Google, Mozilla, Apple, Microsoft; outbound HTTPS). The key pair (VAPID) is in the key file.',
    }),
    subject: Type.String({
      default: '',
      description: 'Contact of this server\'s administrator, given to the push services with every message (`mailto:mfa-admin@example.com` or an `https://` URL). Required with provider `webpush`.',
    }),
    services: Type.Array(Type.String({ minLength: 1 }), {
      default: DEFAULT_PUSH_SERVICES,
      description: 'Host names of the push services a device may subscribe with (`*.example.com` matches below it). Notifications go to these hosts only, over HTTPS.',
    }),
  },
  { additionalProperties: false, default: {}, description: 'Push notifications (Web Push) to the authenticator app. They say only that a sign-in waits; the app fetches the request from this server.' },
);

export const ConfigSchema = Type.Object(
  {
    server: ServerSchema,
    database: DatabaseSchema,
    keys: KeysSchema,
    log: LogSchema,
    rateLimit: RateLimitSchema,
    metrics: MetricsSchema,
    directories: DirectoriesSchema,
    radius: RadiusSchema,
    portal: PortalSchema,
    console: ConsoleSchema,
    sms: SmsSchema,
    voice: VoiceSchema,
    push: PushSchema,
    gateway: GatewaySchema,
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
export type DirectoryConfig = Static<typeof DirectorySchema>;
export type SyncConfig = Static<typeof SyncSchema>;
export type RadiusConfig = Static<typeof RadiusSchema>;
export type RadiusClientConfig = Static<typeof RadiusClientSchema>;
export type SmsConfig = Static<typeof SmsSchema>;
export type PushConfig = Static<typeof PushSchema>;

/** One leaf option of the schema, flattened (for the loader, env overrides, docs and init). */
export interface ConfigOption {
  /** Dotted key path, e.g. `rateLimit.perKeyPerMinute`. */
  readonly path: string;
  readonly segments: readonly string[];
  /** `COUNTERSIGN_RATE_LIMIT_PER_KEY_PER_MINUTE` */
  readonly envName: string;
  readonly schema: SchemaNode;
  readonly description: string;
  readonly isPath: boolean;
  readonly optional: boolean;
}

/** The subset of JSON Schema used above. */
export interface SchemaNode {
  readonly type?: string;
  readonly properties?: Record<string, SchemaNode>;
  readonly required?: readonly string[];
  readonly items?: SchemaNode;
  readonly anyOf?: readonly SchemaNode[];
  readonly const?: unknown;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly default?: unknown;
  readonly description?: string;
  readonly 'x-path'?: boolean;
  readonly 'x-default-text'?: string;
  /** Example values, the first shown commented in the file `countersign init` writes. */
  readonly examples?: readonly unknown[];
  /** An IP address or CIDR range. */
  readonly 'x-network'?: boolean;
}

export const ENV_PREFIX = 'COUNTERSIGN_';

/** `rateLimit.perKeyPerMinute` -> `RATE_LIMIT_PER_KEY_PER_MINUTE` */
export function envSegment(segment: string): string {
  return segment.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

export function envNameOf(segments: readonly string[]): string {
  return ENV_PREFIX + segments.map(envSegment).join('_');
}

function collect(node: SchemaNode, segments: string[], optional: boolean, out: ConfigOption[]): void {
  if (node.type === 'object' && node.properties) {
    for (const [key, child] of Object.entries(node.properties)) {
      const childOptional = !(node.required ?? []).includes(key);
      collect(child, [...segments, key], childOptional, out);
    }
    return;
  }
  out.push({
    path: segments.join('.'),
    segments,
    envName: envNameOf(segments),
    schema: node,
    description: node.description ?? '',
    isPath: node['x-path'] === true,
    optional,
  });
}

/** Every leaf option, in schema order. */
export const CONFIG_OPTIONS: readonly ConfigOption[] = (() => {
  const out: ConfigOption[] = [];
  collect(ConfigSchema, [], false, out);
  return out;
})();

/** Sections (top-level and nested objects) with their descriptions, in schema order. */
export function sectionsOf(node: SchemaNode = ConfigSchema, prefix: string[] = []): { path: string; description: string }[] {
  const out: { path: string; description: string }[] = [];
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    if (child.type === 'object') {
      out.push({ path: [...prefix, key].join('.'), description: child.description ?? '' });
      out.push(...sectionsOf(child, [...prefix, key]));
    }
  }
  return out;
}

/** Human description of what a schema node allows, used in error messages and docs. */
export function describeAllowed(node: SchemaNode): string {
  if (node.anyOf) {
    // Literals read as a list of values; other alternatives by what each allows.
    if (node.anyOf.every((n) => n.const !== undefined)) return 'one of ' + node.anyOf.map((n) => String(n.const)).join(', ');
    return node.anyOf.map((n) => (n.const !== undefined ? JSON.stringify(n.const) : describeAllowed(n))).join(' or ');
  }
  switch (node.type) {
    case 'object':
      return 'a mapping';
    case 'integer':
      return `an integer ${node.minimum ?? '-inf'}..${node.maximum ?? 'inf'}`;
    case 'number':
      return `a number ${node.minimum ?? '-inf'}..${node.maximum ?? 'inf'}`;
    case 'boolean':
      return 'true or false';
    case 'string':
      if (node['x-network']) return 'an IP address or CIDR range';
      return node.minLength ? 'a non-empty string' : 'a string';
    case 'array':
      if (node.items?.['x-network']) return 'a list of IP addresses or CIDR ranges';
      return `a list of ${node.items ? describeAllowed(node.items).replace(/^an? /, '') + 's' : 'values'}`;
    default:
      return 'a valid value';
  }
}

/** Short type name for docs. */
export function typeName(node: SchemaNode): string {
  if (node.anyOf) return 'enum';
  if (node.type === 'array') return `${node.items?.type ?? 'any'}[]`;
  return node.type ?? 'any';
}

/** The default as shown to people (docs, generated config). */
export function defaultText(option: ConfigOption): string {
  const text = option.schema['x-default-text'];
  if (text) return text;
  return JSON.stringify(option.schema.default);
}
