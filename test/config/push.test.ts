import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { configError, configFiles } from './files.ts';

const { writeConfig } = configFiles();

describe('push', () => {
  it("is off by default, with the browsers' push services listed", async () => {
    const config = await loadConfig({ file: await writeConfig(''), env: {} });
    expect(config.push).toEqual({
      provider: 'none',
      subject: '',
      services: ['fcm.googleapis.com', 'updates.push.services.mozilla.com', 'web.push.apple.com', '*.notify.windows.com'],
    });
  });

  it('webpush needs a mailto: or https: subject, named when missing or wrong', async () => {
    const file = await writeConfig('push:\n  provider: webpush\n');
    const missing = await configError({ file, env: {} });
    expect(missing.key).toBe('push.subject');
    expect(missing.message).toMatch(/^push\.subject: "" is not allowed: .*mailto:.*https:\/\//);
    for (const subject of ['admin@example.com', 'http://example.com/contact', 'mailto:', 'https://']) {
      const bad = await configError({ file, env: { COUNTERSIGN_PUSH_SUBJECT: subject } });
      expect(bad.key, subject).toBe('push.subject');
    }
    for (const subject of ['mailto:mfa-admin@example.com', 'https://example.com/contact']) {
      const config = await loadConfig({ file, env: { COUNTERSIGN_PUSH_SUBJECT: subject } });
      expect(config.push).toMatchObject({ provider: 'webpush', subject });
    }
  });

  it('an unknown provider, a service that is not a host name, or no service at all is named', async () => {
    expect((await configError({ file: await writeConfig('push:\n  provider: fcm\n'), env: {} })).key).toBe('push.provider');
    const badHost = await configError({ file: await writeConfig('push:\n  services: [fcm.googleapis.com, "https://web.push.apple.com/"]\n'), env: {} });
    expect(badHost.key).toBe('push.services');
    expect(badHost.message).toContain('push.services[1]: "https://web.push.apple.com/" is not allowed');
    const none = await configError({ file: await writeConfig('push:\n  provider: webpush\n  subject: mailto:a@example.com\n  services: []\n'), env: {} });
    expect(none.key).toBe('push.services');
  });
});
