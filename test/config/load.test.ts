import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { isLoopbackHost, loadConfig } from '../../src/config/load.ts';
import { configError, configFiles } from './files.ts';
import { CONFIG_OPTIONS } from '../../src/config/schema.ts';

const files = configFiles();
const writeConfig = files.writeConfig;
let dir = '';
beforeEach(() => {
  dir = files.dir();
});

describe('defaults', () => {
  it('uses every default when no file exists and nothing is named', async () => {
    const config = await loadConfig({ env: {}, cwd: dir });
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.server.port).toBe(8443);
    expect(config.server.plainHttp).toBe(false);
    expect(config.server.allowInsecurePublicHttp).toBe(false);
    expect(config.server.trustProxy).toEqual([]);
    expect(config.server.serverName).toBe(os.hostname());
    expect(config.server.tls.cert).toBe(path.join(dir, 'tls/cert.pem'));
    expect(config.server.tls.key).toBe(path.join(dir, 'tls/key.pem'));
    expect(config.database.url).toBe(`sqlite:${path.join(dir, 'countersign.db')}`);
    expect(config.keys.file).toBe(path.join(dir, 'countersign.key'));
    expect(config.log.level).toBe('info');
    expect(config.log.pretty).toBe(false);
    expect(config.rateLimit).toEqual({ perKeyPerMinute: 60000, perAddressPerMinute: 600 });
    expect(config.metrics.allowFrom).toEqual([]);
  });

  it('every option has a description and a default', () => {
    for (const option of CONFIG_OPTIONS) {
      expect(option.description, option.path).not.toBe('');
      expect(option.schema.default, option.path).not.toBeUndefined();
    }
    expect(CONFIG_OPTIONS.map((o) => o.envName)).toContain('COUNTERSIGN_RATE_LIMIT_PER_KEY_PER_MINUTE');
    expect(CONFIG_OPTIONS.map((o) => o.envName)).toContain('COUNTERSIGN_DATABASE_URL');
  });

  it('fills what the file leaves out and accepts sections with everything commented out', async () => {
    await writeConfig('server:\n  port: 9443\nlog:\n# level: debug\n');
    const config = await loadConfig({ env: {}, cwd: dir });
    expect(config.server.port).toBe(9443);
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.log.level).toBe('info');
  });

  it('accepts an empty file', async () => {
    await writeConfig('');
    const config = await loadConfig({ env: {}, cwd: dir });
    expect(config.server.port).toBe(8443);
  });
});

describe('file and environment', () => {
  it('reads the default file in cwd, COUNTERSIGN_CONFIG and an explicit file, in that order of preference', async () => {
    await writeConfig('server:\n  port: 1001\n');
    await writeConfig('server:\n  port: 1002\n', 'env.yaml');
    await writeConfig('server:\n  port: 1003\n', 'explicit.yaml');
    expect((await loadConfig({ env: {}, cwd: dir })).server.port).toBe(1001);
    expect((await loadConfig({ env: { COUNTERSIGN_CONFIG: 'env.yaml' }, cwd: dir })).server.port).toBe(1002);
    expect((await loadConfig({ file: 'explicit.yaml', env: { COUNTERSIGN_CONFIG: 'env.yaml' }, cwd: dir })).server.port).toBe(1003);
  });

  it('environment variables override the file', async () => {
    const file = await writeConfig('server:\n  port: 9443\n  host: 127.0.0.1\ndatabase:\n  url: sqlite:./a.db\n');
    const config = await loadConfig({
      file,
      env: {
        COUNTERSIGN_SERVER_PORT: '10443',
        COUNTERSIGN_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
        COUNTERSIGN_RATE_LIMIT_PER_KEY_PER_MINUTE: '5',
        COUNTERSIGN_SERVER_PLAIN_HTTP: 'true',
        COUNTERSIGN_SERVER_TRUST_PROXY: '10.0.0.1, 192.168.0.0/16',
        COUNTERSIGN_METRICS_ALLOW_FROM: '["127.0.0.1"]',
        COUNTERSIGN_LOG_LEVEL: 'debug',
        UNRELATED: 'x',
        COUNTERSIGN_DEBUG: '1',
      },
    });
    expect(config.server.port).toBe(10443);
    expect(config.server.host).toBe('127.0.0.1');
    expect(config.database.url).toBe('postgres://postgres@127.0.0.1:5432/test');
    expect(config.rateLimit.perKeyPerMinute).toBe(5);
    expect(config.rateLimit.perAddressPerMinute).toBe(600);
    expect(config.server.plainHttp).toBe(true);
    expect(config.server.trustProxy).toEqual(['10.0.0.1', '192.168.0.0/16']);
    expect(config.metrics.allowFrom).toEqual(['127.0.0.1']);
    expect(config.log.level).toBe('debug');
  });

  it('resolves relative paths against the config file folder, not the working directory', async () => {
    const sub = path.join(dir, 'etc');
    await mkdir(sub);
    const file = path.join(sub, 'cs.yaml');
    await writeFile(file, 'keys:\n  file: secret/cs.key\ndatabase:\n  url: sqlite:data/cs.db\nserver:\n  tls:\n    cert: /abs/cert.pem\n');
    const config = await loadConfig({ file, env: {}, cwd: os.tmpdir() });
    expect(config.keys.file).toBe(path.join(sub, 'secret/cs.key'));
    expect(config.database.url).toBe(`sqlite:${path.join(sub, 'data/cs.db')}`);
    expect(config.server.tls.cert).toBe('/abs/cert.pem');
    expect(config.server.tls.key).toBe(path.join(sub, 'tls/key.pem'));
  });

  it('reads _FILE secrets and trims the trailing newline', async () => {
    const secret = path.join(dir, 'db-url');
    await writeFile(secret, 'postgres://cs:s3cret@127.0.0.1:5432/test\n');
    const portFile = path.join(dir, 'port');
    await writeFile(portFile, '7443\r\n');
    const config = await loadConfig({
      env: { COUNTERSIGN_DATABASE_URL_FILE: secret, COUNTERSIGN_SERVER_PORT_FILE: portFile },
      cwd: dir,
    });
    expect(config.database.url).toBe('postgres://cs:s3cret@127.0.0.1:5432/test');
    expect(config.server.port).toBe(7443);
  });

  it('COUNTERSIGN_KEYS_FILE is the keys.file option itself; _FILE of it reads the path from a file', async () => {
    expect((await loadConfig({ env: { COUNTERSIGN_KEYS_FILE: '/k/a.key' }, cwd: dir })).keys.file).toBe('/k/a.key');
    const holder = path.join(dir, 'holder');
    await writeFile(holder, '/k/b.key\n');
    expect((await loadConfig({ env: { COUNTERSIGN_KEYS_FILE_FILE: holder }, cwd: dir })).keys.file).toBe('/k/b.key');
  });

  it('refuses a value set both directly and through _FILE', async () => {
    const secret = path.join(dir, 'u');
    await writeFile(secret, 'sqlite:x.db');
    const e = await configError({ env: { COUNTERSIGN_DATABASE_URL: 'sqlite:y.db', COUNTERSIGN_DATABASE_URL_FILE: secret }, cwd: dir });
    expect(e.key).toBe('database.url');
    expect(e.message).toContain('COUNTERSIGN_DATABASE_URL_FILE');
  });

  it('names the key when a _FILE cannot be read', async () => {
    const e = await configError({ env: { COUNTERSIGN_DATABASE_URL_FILE: path.join(dir, 'missing') }, cwd: dir });
    expect(e.key).toBe('database.url');
    expect(e.message).toMatch(/^database\.url: cannot read COUNTERSIGN_DATABASE_URL_FILE=.*ENOENT/);
  });

  it('never echoes a secret read from a _FILE in an error', async () => {
    const secret = path.join(dir, 'u');
    await writeFile(secret, 'mysql://root:hunter2@db/x\n');
    const e = await configError({ env: { COUNTERSIGN_DATABASE_URL_FILE: secret }, cwd: dir });
    expect(e.key).toBe('database.url');
    expect(e.message).not.toContain('hunter2');
  });
});

describe('bad values give a ConfigError naming the key', () => {
  it('out of range', async () => {
    const e = await configError({ file: await writeConfig('server:\n  port: 99999\n'), env: {} });
    expect(e.key).toBe('server.port');
    expect(e.message).toBe('server.port: 99999 is not allowed: an integer 1..65535');
  });

  it('wrong type in the file', async () => {
    let e = await configError({ file: await writeConfig('server:\n  port: "https"\n'), env: {} });
    expect(e.key).toBe('server.port');
    expect(e.message).toBe('server.port: "https" is not allowed: an integer 1..65535');
    e = await configError({ file: await writeConfig('server:\n  plainHttp: "yes"\n'), env: {} });
    expect(e.message).toBe('server.plainHttp: "yes" is not allowed: true or false');
    e = await configError({ file: await writeConfig('server:\n  trustProxy: 10.0.0.1\n'), env: {} });
    expect(e.key).toBe('server.trustProxy');
    e = await configError({ file: await writeConfig('metrics:\n  allowFrom: ["127.0.0.1", 5]\n'), env: {} });
    expect(e.message).toBe('metrics.allowFrom[1]: 5 is not allowed: an IP address or CIDR range');
    e = await configError({ file: await writeConfig('server:\n  trustProxy: ["10.0.0.1", "proxy.local"]\n'), env: {} });
    expect(e.message).toBe('server.trustProxy[1]: "proxy.local" is not allowed: an IP address or CIDR range');
    e = await configError({ file: await writeConfig('metrics:\n  allowFrom: ["10.0.0.0/33"]\n'), env: {} });
    expect(e.key).toBe('metrics.allowFrom');
    e = await configError({ file: await writeConfig('server: 8443\n'), env: {} });
    expect(e.key).toBe('server');
    e = await configError({ file: await writeConfig('rateLimit:\n  perKeyPerMinute: 1.5\n'), env: {} });
    expect(e.key).toBe('rateLimit.perKeyPerMinute');
    e = await configError({ file: await writeConfig('server:\n  host: ""\n'), env: {} });
    expect(e.message).toBe('server.host: "" is not allowed: a non-empty string');
  });

  it('wrong type in the environment names the variable', async () => {
    let e = await configError({ env: { COUNTERSIGN_SERVER_PORT: 'abc' }, cwd: dir });
    expect(e.key).toBe('server.port');
    expect(e.message).toBe('server.port (from COUNTERSIGN_SERVER_PORT): "abc" is not allowed: an integer 1..65535');
    e = await configError({ env: { COUNTERSIGN_SERVER_PLAIN_HTTP: 'maybe' }, cwd: dir });
    expect(e.key).toBe('server.plainHttp');
    e = await configError({ env: { COUNTERSIGN_RATE_LIMIT_PER_ADDRESS_PER_MINUTE: '0' }, cwd: dir });
    expect(e.message).toBe('rateLimit.perAddressPerMinute (from COUNTERSIGN_RATE_LIMIT_PER_ADDRESS_PER_MINUTE): "0" is not allowed: an integer 1..100000000');
    e = await configError({ env: { COUNTERSIGN_SERVER_TRUST_PROXY: '[1,' }, cwd: dir });
    expect(e.key).toBe('server.trustProxy');
  });

  it('bad enum', async () => {
    const e = await configError({ file: await writeConfig('log:\n  level: loud\n'), env: {} });
    expect(e.key).toBe('log.level');
    expect(e.message).toBe('log.level: "loud" is not allowed: one of fatal, error, warn, info, debug, trace, silent');
  });

  it('unknown key, with a suggestion', async () => {
    let e = await configError({ file: await writeConfig('server:\n  prot: 8443\n'), env: {} });
    expect(e.key).toBe('server.prot');
    expect(e.message).toBe('unknown key server.prot; did you mean server.port?');
    e = await configError({ file: await writeConfig('port: 8443\n'), env: {} });
    expect(e.message).toBe('unknown key port; did you mean server.port?');
    e = await configError({ file: await writeConfig('server:\n  tls:\n    certificate: x\n'), env: {} });
    expect(e.key).toBe('server.tls.certificate');
    e = await configError({ file: await writeConfig('zzzzzz: 1\n'), env: {} });
    expect(e.message).toBe('unknown key zzzzzz');
  });

  it('unknown environment variable inside a known section, with a suggestion', async () => {
    const e = await configError({ env: { COUNTERSIGN_SERVER_PROT: '1' }, cwd: dir });
    expect(e.message).toBe('unknown environment variable COUNTERSIGN_SERVER_PROT; did you mean COUNTERSIGN_SERVER_PORT?');
  });

  it('a bad database URL, without showing its password', async () => {
    const e = await configError({ env: { COUNTERSIGN_DATABASE_URL: 'mysql://root:hunter2@db/x' }, cwd: dir });
    expect(e.key).toBe('database.url');
    expect(e.message).not.toContain('hunter2');
    expect(e.message).toContain('postgres://');
  });

  it('malformed YAML names the file and line', async () => {
    const file = await writeConfig('server:\n  port: 8443\n   host: x\n  - y\n');
    const e = await configError({ file, env: {} });
    expect(e.message).toMatch(new RegExp(`^config file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: malformed YAML at line \\d+, column \\d+`));
  });

  it('duplicate keys are malformed YAML', async () => {
    const e = await configError({ file: await writeConfig('server:\n  port: 1\n  port: 2\n'), env: {} });
    expect(e.message).toContain('malformed YAML');
  });

  it('a top level that is not a mapping', async () => {
    const e = await configError({ file: await writeConfig('- a\n- b\n'), env: {} });
    expect(e.message).toContain('top level must be a mapping');
  });

  it('a missing file named explicitly (option or COUNTERSIGN_CONFIG)', async () => {
    let e = await configError({ file: path.join(dir, 'nope.yaml'), env: {} });
    expect(e.message).toBe(`config file ${path.join(dir, 'nope.yaml')} not found (create one with "countersign init")`);
    e = await configError({ env: { COUNTERSIGN_CONFIG: 'nope.yaml' }, cwd: dir });
    expect(e.message).toContain('nope.yaml not found');
  });

  it('plain HTTP on a public address is refused unless explicitly allowed', async () => {
    const e = await configError({ file: await writeConfig('server:\n  plainHttp: true\n'), env: {} });
    expect(e.key).toBe('server.plainHttp');
    expect(e.message).toContain('server.allowInsecurePublicHttp');
    const allowed = await loadConfig({ file: await writeConfig('server:\n  plainHttp: true\n  allowInsecurePublicHttp: true\n'), env: {} });
    expect(allowed.server.plainHttp).toBe(true);
    const empty = path.join(dir, 'empty');
    await mkdir(empty);
    for (const host of ['127.0.0.1', '::1', 'localhost', '127.8.9.10']) {
      const c = await loadConfig({ env: { COUNTERSIGN_SERVER_PLAIN_HTTP: 'true', COUNTERSIGN_SERVER_HOST: host }, cwd: empty });
      expect(c.server.plainHttp, host).toBe(true);
    }
    const e2 = await configError({ env: { COUNTERSIGN_SERVER_PLAIN_HTTP: '1', COUNTERSIGN_SERVER_HOST: '::' }, cwd: empty });
    expect(e2.key).toBe('server.plainHttp');
  });

  it('SMS through Twilio: the account, token and sender are required, the token may come from a file', async () => {
    const file = await writeConfig('sms:\n  provider: twilio\n  twilio:\n    accountSid: AC123\n    from: "+15005550006"\n');
    const missing = await configError({ file, env: {} });
    expect(missing.key).toBe('sms.twilio.authToken');
    const token = path.join(dir, 'twilio-token');
    await writeFile(token, 'tok-secret\n');
    const config = await loadConfig({ file, env: { COUNTERSIGN_SMS_TWILIO_AUTH_TOKEN_FILE: token } });
    expect(config.sms).toEqual({ provider: 'twilio', twilio: { accountSid: 'AC123', authToken: 'tok-secret', from: '+15005550006', baseUrl: 'https://api.twilio.com' } });
    const bad = await configError({ file, env: { COUNTERSIGN_SMS_TWILIO_AUTH_TOKEN: 'x', COUNTERSIGN_SMS_TWILIO_BASE_URL: 'ftp://example.org' } });
    expect(bad.key).toBe('sms.twilio.baseUrl');
    const off = await loadConfig({ file: await writeConfig(''), env: {} });
    expect(off.sms.provider).toBe('none');
  });

  it('loopback detection', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
    expect(isLoopbackHost('10.0.0.1')).toBe(false);
    expect(isLoopbackHost('example.org')).toBe(false);
  });
});

describe('the file countersign init writes', () => {
  it('loads, and so does every commented example in it once uncommented', async () => {
    const { renderConfigTemplate } = await import('../../src/config/render.ts');
    const template = renderConfigTemplate();
    expect((await loadConfig({ file: await writeConfig(template), env: {} })).directories).toEqual([]);
    const lines = template.split('\n');
    const start = lines.indexOf('# For example:');
    expect(start).toBeGreaterThan(0);
    const example: string[] = [];
    for (const l of lines.slice(start + 1)) {
      if (!l.startsWith('#   ')) break;
      example.push(l.slice(4));
    }
    const withExample = template.replace(/^directories: \[\]$/m, example.join('\n'));
    const config = await loadConfig({ file: await writeConfig(withExample), env: {} });
    expect(config.directories.map((d) => d.name)).toEqual(['corp-ad']);
  });
});

describe('describeAllowed', () => {
  it('lists literal choices, and describes other alternatives by what each allows', async () => {
    const { describeAllowed } = await import('../../src/config/schema.ts');
    expect(describeAllowed({ anyOf: [{ const: 'a' }, { const: 'b' }] } as never)).toBe('one of a, b');
    expect(describeAllowed({ anyOf: [{ type: 'string', minLength: 1 }, { type: 'integer', minimum: 0, maximum: 5 }] } as never)).toBe('a non-empty string or an integer 0..5');
  });
});
