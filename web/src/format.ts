/** How times, durations and numbers read in the console (the browser's language and time zone). */

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateTimeSeconds = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const number = new Intl.NumberFormat();

export const toMillis = (t: number | string): number => (typeof t === 'number' ? t : Date.parse(t));

export function formatDateTime(t: number | string | null | undefined, seconds = false): string {
  if (t === null || t === undefined) return '—';
  const ms = toMillis(t);
  return Number.isNaN(ms) ? '—' : (seconds ? dateTimeSeconds : dateTime).format(ms);
}

export const formatNumber = (n: number): string => number.format(n);

/** 90 -> "1 min 30 s", 7200 -> "2 h". */
export function formatSeconds(total: number): string {
  if (total <= 0) return '0 s';
  const parts: string[] = [];
  const units: [number, string][] = [
    [86_400, 'd'],
    [3600, 'h'],
    [60, 'min'],
    [1, 's'],
  ];
  let rest = Math.round(total);
  for (const [size, unit] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n} ${unit}`);
    rest -= n * size;
  }
  return parts.slice(0, 2).join(' ');
}

/** "in 4 min", "3 h ago". */
export function formatRelative(t: number | string, now = Date.now()): string {
  const diff = (toMillis(t) - now) / 1000;
  const text = formatSeconds(Math.abs(diff));
  return diff >= 0 ? `in ${text}` : `${text} ago`;
}

/** A base32 secret in groups of four for typing: "JBSW Y3DP EHPK 3PXP". */
export const groupSecret = (secret: string): string => secret.replace(/(.{4})(?=.)/g, '$1 ');

export const plural = (n: number, one: string, many = one + 's'): string => `${formatNumber(n)} ${n === 1 ? one : many}`;
