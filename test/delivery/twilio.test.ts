import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTwilioSender } from '../../src/delivery/twilio.ts';
import { startTwilioTwin, type TwilioTwin } from '../support/twilio-twin.ts';

let twin: TwilioTwin;
beforeAll(async () => {
  twin = await startTwilioTwin();
});
afterAll(async () => twin.close());

describe('Twilio SMS sender', () => {
  it('posts To, From and Body with Basic auth to the account path, and resolves on 201', async () => {
    const sender = createTwilioSender({ accountSid: twin.accountSid, authToken: twin.authToken, from: '+15005550006', baseUrl: twin.url });
    await sender.send({ to: '+14155550100', text: 'Countersign: hello' });
    expect(twin.messages.at(-1)).toMatchObject({ to: '+14155550100', from: '+15005550006', body: 'Countersign: hello' });
  });

  it('names a messaging service as MessagingServiceSid, not as a From number', async () => {
    const service = `MG${'0123456789abcdef'.repeat(2)}`;
    const sender = createTwilioSender({ accountSid: twin.accountSid, authToken: twin.authToken, from: service, baseUrl: twin.url });
    await sender.send({ to: '+14155550100', text: 'Countersign: via a service' });
    expect(twin.messages.at(-1)).toMatchObject({ to: '+14155550100', from: service, body: 'Countersign: via a service' });
  });

  it("throws on a wrong token, naming the status and Twilio's code and message", async () => {
    const sender = createTwilioSender({ accountSid: twin.accountSid, authToken: 'wrong', from: '+15005550006', baseUrl: twin.url });
    const before = twin.messages.length;
    await expect(sender.send({ to: '+14155550100', text: 'x' })).rejects.toThrow('Twilio refused the message (HTTP 401): code 20003: Authenticate');
    expect(twin.messages).toHaveLength(before);
  });

  it('throws on a number Twilio refuses (400)', async () => {
    const sender = createTwilioSender({ accountSid: twin.accountSid, authToken: twin.authToken, from: '+15005550006', baseUrl: twin.url });
    await expect(sender.send({ to: '12', text: 'x' })).rejects.toThrow(/HTTP 400\): code 21211/);
  });

  it('gives up when Twilio does not answer in time', async () => {
    const sender = createTwilioSender({ accountSid: twin.accountSid, authToken: twin.authToken, from: '+15005550006', baseUrl: twin.url, timeoutMs: 100 });
    twin.delayMs = 2000;
    try {
      await expect(sender.send({ to: '+14155550100', text: 'x' })).rejects.toThrow('Twilio could not be reached: no answer within 100 ms');
    } finally {
      twin.delayMs = 0;
    }
  });

  it('throws when nothing listens', async () => {
    const sender = createTwilioSender({ accountSid: twin.accountSid, authToken: twin.authToken, from: '+15005550006', baseUrl: 'http://127.0.0.1:1' });
    await expect(sender.send({ to: '+14155550100', text: 'x' })).rejects.toThrow(/Twilio could not be reached/);
  });
});
