// Where the recorded histories live (test/histories/<set>/<path>.json) and their sets in the order they were recorded.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HISTORIES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../histories');

/** A set's number: sets are named v<N>-<what>, so v10 comes after v9 (which a sort by name would put last). */
export const setNumber = (name: string): number => Number(/^v(\d+)-/.exec(name)?.[1] ?? 0);

/** Every recorded set, oldest first; the last one is the latest. */
export function historySets(): string[] {
  return readdirSync(HISTORIES_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort((a, b) => setNumber(a) - setNumber(b));
}
