/**
 * The portal's languages: every text goes through i18next. English is the reference; each other
 * language is checked at compile time to have exactly the same keys (see locales/).
 *
 * The language of a page: `?lang=` (remembered in a cookie), else the signed-in user's language,
 * else the cookie, else the best match of Accept-Language, else the company default, else English.
 */
import i18next, { type TFunction } from 'i18next';
import { en, type PortalKey } from './locales/en.ts';
import { fr } from './locales/fr.ts';

export const LANGUAGES = { en, fr } as const;
export type PortalLanguage = keyof typeof LANGUAGES;
export const LANGUAGE_CODES = Object.keys(LANGUAGES) as PortalLanguage[];

const i18n = i18next.createInstance();
await i18n.init({
  resources: Object.fromEntries(LANGUAGE_CODES.map((l) => [l, { portal: LANGUAGES[l] }])),
  ns: ['portal'],
  defaultNS: 'portal',
  fallbackLng: 'en',
  supportedLngs: LANGUAGE_CODES,
  // Keys contain dots; they are flat, not nested.
  keySeparator: false,
  nsSeparator: false,
  // Pages escape every value themselves (eta autoEscape); escaping here would escape twice.
  interpolation: { escapeValue: false },
  initAsync: false,
});

export type Translate = (key: PortalKey, values?: Record<string, string | number>) => string;

const translators = new Map<PortalLanguage, Translate>();
for (const lng of LANGUAGE_CODES) {
  const t: TFunction = i18n.getFixedT(lng);
  translators.set(lng, (key, values) => t(key, values ?? {}));
}

export function translator(lng: PortalLanguage): Translate {
  return translators.get(lng) as Translate;
}

/** The supported language of a tag such as fr-CA, or undefined. */
export function supported(tag: string | undefined | null): PortalLanguage | undefined {
  if (!tag) return undefined;
  const base = tag.trim().toLowerCase().split(/[-_]/)[0] ?? '';
  return (LANGUAGE_CODES as string[]).includes(base) ? (base as PortalLanguage) : undefined;
}

/** The best supported language of an Accept-Language header (by q value, then order). */
export function fromAcceptLanguage(header: string | undefined): PortalLanguage | undefined {
  if (!header || header.length > 1000) return undefined;
  const ranked = header
    .split(',')
    .map((part, i) => {
      const [tag, ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
      return { tag: tag ?? '', q: q === undefined ? 1 : Number(q), i };
    })
    .filter((r) => r.q > 0 && Number.isFinite(r.q))
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const r of ranked) {
    const lng = supported(r.tag);
    if (lng) return lng;
  }
  return undefined;
}
