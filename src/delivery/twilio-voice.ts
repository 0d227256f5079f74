/**
 * Phone calls through Twilio's Calls API: `POST {baseUrl}/2010-04-01/Accounts/{accountSid}/Calls.json`
 * (HTTP Basic, form body `To`, `From`, `Twiml`, `StatusCallback`, `Timeout`, `SendDigits`). The
 * call's TwiML says who is signing in and gathers one key: the caller presses # to approve or 0 to
 * report fraud. Twilio posts the key to `{callbackUrl}/voice/v1/calls/{id}/answer?token=...` and
 * the call's end to `.../status?token=...`, each signed with `X-Twilio-Signature`
 * (HMAC-SHA1 under the auth token), which the voice door checks with `twilioSignatureMatches`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { VoiceCaller } from '../core/ports.ts';
import { postToTwilio, type TwilioOptions } from './twilio.ts';

export interface TwilioVoiceOptions extends TwilioOptions {
  /** Public base URL of Countersign that Twilio's webhooks reach (https://...). */
  readonly callbackUrl: string;
  /** How long the phone rings before Twilio gives up. Default 30. */
  readonly ringSeconds?: number;
}

interface Script {
  readonly lang: string;
  readonly voice: (application: string) => string;
  readonly approved: string;
  readonly declined: string;
  readonly fraud: string;
  readonly closed: string;
}

/** What the call says, by the user's language (English when it has none). */
const SCRIPTS: Readonly<Record<string, Script>> = {
  en: {
    lang: 'en-US',
    voice: (app) => `This is Countersign. Someone is signing in to ${app} with your account. To approve, press the pound key. If this is not you, press zero.`,
    approved: 'Thank you. The sign-in is approved. Goodbye.',
    declined: 'The sign-in is not approved. Goodbye.',
    fraud: 'The sign-in is refused and your report was sent to your administrators. Goodbye.',
    closed: 'This sign-in request is no longer valid. Goodbye.',
  },
  fr: {
    lang: 'fr-FR',
    voice: (app) => `Ici Countersign. Quelqu'un se connecte à ${app} avec votre compte. Pour approuver, appuyez sur la touche dièse. Si ce n'est pas vous, appuyez sur zéro.`,
    approved: 'Merci. La connexion est approuvée. Au revoir.',
    declined: "La connexion n'est pas approuvée. Au revoir.",
    fraud: 'La connexion est refusée et votre signalement a été transmis à vos administrateurs. Au revoir.',
    closed: "Cette demande de connexion n'est plus valable. Au revoir.",
  },
};

export function callScript(language: string): Script {
  return SCRIPTS[language.slice(0, 2).toLowerCase()] ?? (SCRIPTS['en'] as Script);
}

function xml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** TwiML that says `text` and hangs up (the answer to a webhook). */
export function sayAndHangUp(text: string, language: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Response><Say language="${callScript(language).lang}">${xml(text)}</Say><Hangup/></Response>`;
}

/** The keys of a call: `#` approves, `0` reports fraud, anything else (or nothing) declines. */
export function responseToKeys(digits: string): 'approve' | 'decline' | 'fraud' {
  return digits === '#' ? 'approve' : digits === '0' ? 'fraud' : 'decline';
}

/**
 * Twilio's request signature: base64 HMAC-SHA1, under the auth token, of the full URL Twilio
 * requested followed by each POST parameter's name and value, sorted by name. Constant-time.
 */
export function twilioSignatureMatches(authToken: string, url: string, params: Readonly<Record<string, string>>, signature: string): boolean {
  const data = url + Object.keys(params).sort().map((k) => k + params[k]).join('');
  const expected = createHmac('sha1', authToken).update(data, 'utf8').digest();
  const given = Buffer.from(signature, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function createTwilioCaller(opts: TwilioVoiceOptions): VoiceCaller {
  const base = opts.callbackUrl.replace(/\/+$/, '');
  const ring = String(opts.ringSeconds ?? 30);
  return {
    async call(call) {
      const script = callScript(call.language);
      const hooks = `${base}/voice/v1/calls/${encodeURIComponent(call.authenticationId)}`;
      // The language rides in the (signed) URL, so the answer is said in the call's language.
      const query = `?token=${encodeURIComponent(call.token)}&lang=${script.lang.slice(0, 2)}`;
      const twiml =
        `<Response><Gather input="dtmf" numDigits="1" finishOnKey="" timeout="10" actionOnEmptyResult="true" method="POST" action="${xml(`${hooks}/answer${query}`)}">` +
        `<Say language="${script.lang}" loop="2">${xml(script.voice(call.application))}</Say></Gather></Response>`;
      const form: Record<string, string> = {
        To: call.to,
        From: opts.from,
        Twiml: twiml,
        Timeout: ring,
        StatusCallback: `${hooks}/status${query}`,
        StatusCallbackMethod: 'POST',
        StatusCallbackEvent: 'completed',
      };
      // An extension is dialled once the call connects, after a short wait ('w' is half a second).
      if (call.extension) form['SendDigits'] = `wwww${call.extension}`;
      await postToTwilio(opts, 'Calls.json', form, 'call');
    },
  };
}
