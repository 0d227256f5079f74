import { describe, expect, it } from 'vitest';
import type { ConfigError } from '../../src/config/load.ts';
import { loadConfig } from '../../src/config/load.ts';
import { voiceCaller } from '../../src/server.ts';
import { configError as loadError, configFiles } from './files.ts';

const { writeConfig } = configFiles();

async function load(text: string): Promise<Awaited<ReturnType<typeof loadConfig>>> {
  return loadConfig({ file: await writeConfig(text), env: {} });
}

async function configError(text: string): Promise<ConfigError> {
  return loadError({ file: await writeConfig(text), env: {} });
}

const TWILIO = 'sms:\n  twilio:\n    accountSid: AC0123456789abcdef0123456789abcdef\n    authToken: token\n    from: "+15005550006"\n';

describe('voice', () => {
  it('is off by default: no calls are placed', async () => {
    const config = await load('');
    expect(config.voice).toEqual({ provider: 'none', from: '', callbackUrl: '', ringSeconds: 30 });
    expect(voiceCaller(config)).toBeUndefined();
  });

  it('twilio uses the account of sms.twilio and needs an https callbackUrl, each named when missing or wrong', async () => {
    expect((await configError('voice:\n  provider: twilio\n  callbackUrl: https://mfa.example.com\n')).key).toBe('sms.twilio.accountSid');
    const missing = await configError(`${TWILIO}voice:\n  provider: twilio\n`);
    expect(missing.key).toBe('voice.callbackUrl');
    expect(missing.message).toMatch(/public https:\/\/ base URL/);
    for (const url of ['http://mfa.example.com', 'https://mfa.example.com/?x=1', 'mfa.example.com']) {
      expect((await configError(`${TWILIO}voice:\n  provider: twilio\n  callbackUrl: "${url}"\n`)).key, url).toBe('voice.callbackUrl');
    }
    const config = await load(`${TWILIO}voice:\n  provider: twilio\n  callbackUrl: https://mfa.example.com\n`);
    expect(voiceCaller(config)).toBeDefined();
  });

  it('needs a caller number: voice.from, or sms.twilio.from when that is a number', async () => {
    const service = TWILIO.replace('"+15005550006"', 'MG0123456789abcdef0123456789abcdef');
    const error = await configError(`${service}voice:\n  provider: twilio\n  callbackUrl: https://mfa.example.com\n`);
    expect(error.key).toBe('voice.from');
    const config = await load(`${service}voice:\n  provider: twilio\n  callbackUrl: https://mfa.example.com\n  from: "+15005550007"\n`);
    expect(config.voice.from).toBe('+15005550007');
    expect((await configError(`${TWILIO}voice:\n  ringSeconds: 2\n`)).key).toBe('voice.ringSeconds');
  });
});
