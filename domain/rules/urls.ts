// Rules about the URLs Takedown stores and contacts, shared by the API (what it takes) and the activities (what they send to).

/** Whether a URL's scheme is https (any case, as URL parsing reads it). Pure string work so workflows may call it. */
export function isHttpsUrl(url: string): boolean {
  return /^https:\/\//i.test(url.trim());
}

/** Why a webhook URL is refused where only https:// webhooks are taken (production): the rule, in the words a 422 shows. */
export const HTTPS_WEBHOOK_RULE = 'must be an https:// URL: production sends notices over TLS only';
