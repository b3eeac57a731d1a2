// Rules about the URLs Takedown stores and contacts, shared by the API (what it takes) and the activities (what they send to).

/** Whether a URL's scheme is https (any case, as URL parsing reads it). Pure string work so workflows may call it. */
export function isHttpsUrl(url: string): boolean {
  return /^https:\/\//i.test(url.trim());
}

/** Why a webhook URL is refused where only https:// webhooks are taken (production): the rule, in the words a 422 shows. */
export const HTTPS_WEBHOOK_RULE = 'must be an https:// URL: production sends notices over TLS only';

/**
 * Characters a URL is refused for, instead of being stored one way and contacted another (URL parsing silently drops
 * tabs and line breaks, and percent-encodes the rest): control characters (C0, DEL, C1), spaces and other whitespace,
 * and invisible format characters (Unicode category Cf), bidirectional-text controls (U+200E, U+200F, U+202A-U+202E,
 * U+2066-U+2069, U+061C) among them. A URL that needs any of them writes it percent-encoded.
 */
const URL_UNSAFE = /[\p{Cc}\s\p{Cf}]/u;

export function hasUnsafeUrlCharacters(url: string): boolean {
  return URL_UNSAFE.test(url);
}

export const UNSAFE_URL_MESSAGE = 'must not contain spaces, line breaks, control characters or invisible formatting characters (percent-encode them)';
