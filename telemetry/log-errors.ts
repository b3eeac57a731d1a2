// Errors as log lines: pino's standard serialiser, less the bound values of a failed SQL statement. drizzle's
// DrizzleQueryError carries every parameter of the statement (in its message, its stack and `params`): a partner's
// webhook secret, a token hash, case data. The statement's text stays, which says what failed.
import { pino } from 'pino';

const PARAMS_IN_TEXT = /\nparams: [\s\S]*?(?=\n {4}at |$)/g;
const REDACTED = '[not logged]';

function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return value.replace(PARAMS_IN_TEXT, `\nparams: ${REDACTED}`);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === 'params' ? REDACTED : scrub(v, depth + 1)]));
}

/** `err` as pino writes it (type, message, stack, own fields, causes), without any SQL statement's parameters. */
export function loggableError(err: unknown): unknown {
  return scrub(err instanceof Error ? pino.stdSerializers.err(err) : err, 0);
}
