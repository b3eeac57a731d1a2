// What is recorded of a partner's webhook where its URL may not be: in audit entries and admin events.
import { createHash } from 'node:crypto';

/** A webhook URL as records name it: its origin (null when it does not parse) and the SHA-256 of the whole URL, whose path and query may carry a credential. */
export function webhookDestination(url: string): { origin: string | null; urlSha256: string } {
  let origin: string | null = null;
  try {
    origin = new URL(url).origin;
  } catch {
    // Refused by a delivery itself (invalid_url); still named by its hash.
  }
  return { origin, urlSha256: createHash('sha256').update(url, 'utf8').digest('hex') };
}
