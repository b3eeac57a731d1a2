// Durations as the contract writes them ("72h", "10d", "3s", "500ms"): parse and format, no dependencies.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;

/** Milliseconds of a duration string, or null when it is not one (or is zero, negative or absurdly long). */
export function parseDuration(text: string): number | null {
  const match = DURATION_RE.exec(text.trim());
  if (!match) return null;
  const ms = Number(match[1]) * UNIT_MS[match[2]];
  if (!Number.isFinite(ms) || ms < 1 || ms > 366 * UNIT_MS.d) return null;
  return Math.round(ms);
}

export function durationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === null) throw new Error(`not a duration: ${text}`);
  return ms;
}
