// eslint.config.js enforces the architecture: each boundary in design.md is probed with code that breaks it and code that keeps it.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PROBE = '__lint_probe__';
const scratch = path.join(root, '.test-data', `lint-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);

let eslint: ESLint;
let cycleLinter: ESLint;

beforeAll(() => {
  // Probes are linted from memory at paths inside the real folders; the TypeScript service needs leave to type them.
  eslint = new ESLint({
    cwd: root,
    overrideConfig: {
      files: [`**/${PROBE}.*`],
      languageOptions: { parserOptions: { projectService: { allowDefaultProject: [`*/${PROBE}.ts`, `*/*/${PROBE}.ts`] } } },
    },
  });
  // A cycle needs files on disk; .test-data/ is ignored by the config, so lint it with ignores off and no type service.
  mkdirSync(scratch, { recursive: true });
  writeFileSync(path.join(scratch, 'cycle-a.ts'), "import { b } from './cycle-b';\nexport const a = () => b;\n");
  writeFileSync(path.join(scratch, 'cycle-b.ts'), "import { a } from './cycle-a';\nexport const b = () => a;\n");
  writeFileSync(path.join(scratch, 'leaf.ts'), 'export const leaf = 1;\n');
  writeFileSync(path.join(scratch, 'uses-leaf.ts'), "import { leaf } from './leaf';\nexport const usesLeaf = leaf;\n");
  cycleLinter = new ESLint({
    cwd: root,
    ignore: false,
    overrideConfig: {
      files: ['.test-data/**'],
      languageOptions: { parserOptions: { projectService: false } },
      rules: { '@typescript-eslint/no-floating-promises': 'off' },
    },
  });
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function lint(file: string, code: string): Promise<{ rule: string | null; message: string }[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return result.messages.map((m) => ({ rule: m.ruleId, message: m.message }));
}

async function rulesHit(file: string, code: string): Promise<string[]> {
  const messages = await lint(file, code);
  const parseErrors = messages.filter((m) => m.rule === null);
  expect(parseErrors, JSON.stringify(parseErrors)).toEqual([]);
  return messages.map((m) => m.rule!);
}

const RESTRICTED = '@typescript-eslint/no-restricted-imports';
const PATHS = 'import-x/no-restricted-paths';
const TYPES_ONLY = 'takedown/no-value-imports-from';

describe('eslint.config.js boundaries', { timeout: 60_000 }, () => {
  it.each([
    ["import { readFileSync } from 'node:fs';", RESTRICTED],
    ["import { readFile } from 'fs/promises';", RESTRICTED],
    ["import path from 'path';", RESTRICTED],
    ["import { createHash } from 'crypto';", RESTRICTED],
    ["import { z } from 'zod';", RESTRICTED],
    ["import { z } from 'zod/v4';", RESTRICTED],
    ["import pino from 'pino';", RESTRICTED],
    ["import pg from 'pg';", RESTRICTED],
    ["import { cases } from '../db/schema';", PATHS],
    ["import { connectDb } from '../../db/client';", PATHS],
    ["import { CaseCreateBody } from '../domain/schemas';", PATHS],
    ["import { createActivities } from '../activities';", TYPES_ONLY],
    ["import { loadConfig } from '../scripts/config';", PATHS],
  ])('workflows/: %s is refused', async (line, rule) => {
    const file = line.includes("'../../") ? `workflows/steps/${PROBE}.ts` : `workflows/${PROBE}.ts`;
    expect(await rulesHit(file, `${line}\nexport const probe = 1;\n`)).toContain(rule);
  });

  it('workflows/: domain rules, the SDK, activity types and the local proxy file are allowed', async () => {
    const code = [
      "import { proxyActivities } from '@temporalio/workflow';",
      "import type { TakedownActivities } from '../activities/types';",
      "import { type ArchiveArgs } from '../activities/types';",
      "import type { CaseView } from '../domain/types';",
      "import { SEARCH_ATTRIBUTES } from './search-attributes';",
      "import { store } from './activities';",
      'export const probe: [unknown, TakedownActivities | undefined, ArchiveArgs | undefined, CaseView | undefined, unknown, unknown] = [proxyActivities, undefined, undefined, undefined, SEARCH_ATTRIBUTES, store];',
      '',
    ].join('\n');
    expect(await rulesHit(`workflows/${PROBE}.ts`, code)).toEqual([]);
    expect(await rulesHit(`workflows/steps/${PROBE}.ts`, code.replace(/'\.\.\//g, "'../../").replace(/'\.\//g, "'../"))).toEqual([]);
  });

  it('domain/: no Node built-ins, no zod outside schemas.ts, nothing of ours', async () => {
    expect(await rulesHit(`domain/rules/${PROBE}.ts`, "import { z } from 'zod';\nexport const probe = z;\n")).toContain(RESTRICTED);
    expect(await rulesHit(`domain/${PROBE}.ts`, "import { randomUUID } from 'node:crypto';\nexport const probe = randomUUID;\n")).toContain(RESTRICTED);
    expect(await rulesHit(`domain/${PROBE}.ts`, "import { connectDb } from '../db/client';\nexport const probe = connectDb;\n")).toContain(PATHS);
    expect(await rulesHit(`domain/${PROBE}.ts`, "import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';\nexport const probe = SEARCH_ATTRIBUTES;\n")).toContain(PATHS);
    expect(await rulesHit(`domain/${PROBE}.ts`, "import type { CaseView } from './types';\nexport type Probe = CaseView;\n")).toEqual([]);
  });

  it('domain/schemas.ts may use zod but not Node built-ins', async () => {
    // Linted from memory under the real file's name: the rules look at the path, the real file is untouched.
    const file = 'domain/schemas.ts';
    const [ok] = await eslint.lintText("import { z } from 'zod';\nexport const probe = z.string();\n", { filePath: path.join(root, file) });
    expect(ok.messages.map((m) => m.ruleId)).not.toContain(RESTRICTED);
    const [bad] = await eslint.lintText("import { z } from 'zod';\nimport fs from 'node:fs';\nexport const probe = [z, fs];\n", { filePath: path.join(root, file) });
    expect(bad.messages.map((m) => m.ruleId)).toContain(RESTRICTED);
  });

  it('api/: never activities/, but db/, domain/ and the workflow messages are fine', async () => {
    expect(await rulesHit(`api/routes/${PROBE}.ts`, "import { createActivities } from '../../activities';\nexport const probe = createActivities;\n")).toContain(PATHS);
    expect(await rulesHit(`api/${PROBE}.ts`, "import type { TakedownActivities } from '../activities/types';\nexport type Probe = TakedownActivities;\n")).toContain(PATHS);
    const fine = [
      "import { connectDb } from '../db/client';",
      "import { ProblemError } from '../domain/errors';",
      "import { caseQuery } from '../workflows/messages';",
      'export const probe = [connectDb, ProblemError, caseQuery];',
      '',
    ].join('\n');
    expect(await rulesHit(`api/${PROBE}.ts`, fine)).toEqual([]);
  });

  it('ui/: imports nothing of ours', async () => {
    expect(await rulesHit(`ui/${PROBE}.js`, "import { ProblemError } from '../domain/errors';\nexport const probe = ProblemError;\n")).toContain(PATHS);
    expect(await rulesHit(`ui/${PROBE}.ts`, "import type { CaseView } from '../domain/types';\nexport type Probe = CaseView;\n")).toContain(PATHS);
  });

  it('everywhere: a promise must be awaited, returned, caught or voided', async () => {
    const code = 'async function work(): Promise<number> { return 1; }\nwork();\nvoid work();\nexport const probe = work().catch(() => 0);\n';
    const hits = await lint(`test/unit/${PROBE}.ts`, code);
    expect(hits.filter((h) => h.rule === '@typescript-eslint/no-floating-promises')).toHaveLength(1);
  });

  it('everywhere: an import cycle is refused', async () => {
    const results = await cycleLinter.lintFiles([path.join(scratch, 'cycle-a.ts'), path.join(scratch, 'uses-leaf.ts')]);
    const byFile = Object.fromEntries(results.map((r) => [path.basename(r.filePath), r.messages.map((m) => m.ruleId)]));
    expect(byFile['cycle-a.ts']).toContain('import-x/no-cycle');
    expect(byFile['uses-leaf.ts']).toEqual([]);
  });
});
