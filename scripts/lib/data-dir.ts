// The data dir holds the embedded PostgreSQL's files, the Temporal dev server's SQLite file and the admin token: owner only.
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Owner only. */
export const PRIVATE_DIR_MODE = 0o700;
/**
 * Owner only, plus "enter" (no listing, no reading) for others: as root, the embedded PostgreSQL runs as the `postgres`
 * user, which must pass through the data dir to reach its own folder (scripts/lib/postgres.ts).
 */
export const TRAVERSABLE_DIR_MODE = 0o711;

/**
 * Creates `dir` owner-only (0700) if it does not exist; its missing parents are made as usual. An existing dir is left
 * as it is (`tightenDir` is for that). Returns whether it was created.
 */
export function makePrivateDir(dir: string): boolean {
  mkdirSync(path.dirname(dir), { recursive: true });
  try {
    mkdirSync(dir, { mode: PRIVATE_DIR_MODE });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

export type Tightened = { dir: string; from: string; to: string } | { dir: string; from: string; error: string };

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

/**
 * Takes away whatever group and others may do in `dir` beyond `allowed` (PRIVATE_DIR_MODE or TRAVERSABLE_DIR_MODE),
 * keeping the owner's bits. Returns what it changed, or why it could not (a dir another user owns, say), for the caller
 * to log; null when there was nothing to do or no such dir.
 */
export function tightenDir(dir: string, allowed: number = PRIVATE_DIR_MODE): Tightened | null {
  let mode: number;
  try {
    const st = statSync(dir);
    if (!st.isDirectory()) return null;
    mode = st.mode & 0o777;
  } catch {
    return null;
  }
  const extra = mode & 0o077 & ~allowed;
  if (extra === 0) return null;
  const next = mode & ~extra;
  try {
    chmodSync(dir, next);
    return { dir, from: octal(mode), to: octal(next) };
  } catch (err) {
    return { dir, from: octal(mode), error: (err as Error).message };
  }
}

/** Takes group's and others' bits off each existing file (0644 becomes 0600); a missing file is skipped. */
export function makeFilesOwnerOnly(files: string[]): void {
  for (const file of files) {
    try {
      const mode = statSync(file).mode & 0o777;
      if (mode & 0o077) chmodSync(file, mode & 0o700);
    } catch {
      // Not there (a -wal or -shm file between checkpoints), or not ours: the owner-only dir above it still guards it.
    }
  }
}
