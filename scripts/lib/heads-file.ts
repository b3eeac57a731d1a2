// Files of chain heads an auditor saved (the console's "Save chain heads", a page of GET /v1/audit/heads, or an array of
// such pages), read by npm run audit:verify and npm run audit:verify-export.
import { readFileSync } from 'node:fs';
import { ChainHeadSchema, z } from '../../domain/schemas';
import type { ChainHead } from '../../domain/types';

/** A saved file: `{ takenAt?, heads: [...] }` as the console writes it, `{ at, heads, next }` as the API pages, or an array of pages. */
const HeadsPageSchema = z.object({ heads: z.array(ChainHeadSchema) });
const HeadsFileSchema = z.union([HeadsPageSchema, z.array(HeadsPageSchema).min(1)]);

export function readHeads(file: string): ChainHead[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read ${file} as JSON: ${(err as Error).message}`);
  }
  const parsed = HeadsFileSchema.safeParse(json);
  if (!parsed.success) {
    // A union's issue carries the issues of each way it tried; the object form's says most about a file meant as one.
    const first = parsed.error.issues[0];
    const inner = first.code === 'invalid_union' ? (first.errors[0]?.[0] ?? first) : first;
    throw new Error(`${file} is not a saved heads file: ${inner.path.join('.') || 'the file'} ${inner.message}`);
  }
  const heads = (Array.isArray(parsed.data) ? parsed.data : [parsed.data]).flatMap((p) => p.heads);
  if (heads.length === 0) throw new Error(`${file} holds no heads`);
  return heads;
}
