// Lint rules that hold the architecture in place (docs: docs/design.md, a copy of ../shared/design.md): folder boundaries, no cycles, no dropped promises.
import { readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'eslint/config';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const ROOT = path.dirname(fileURLToPath(import.meta.url));

const TS_FILES = ['**/*.ts', '**/*.tsx', '**/*.mts', '**/*.cts'];
// Every source folder at the top, found rather than listed so a new one is covered by the boundaries at once.
const OUR_FOLDERS = readdirSync(ROOT, { withFileTypes: true })
  .filter((d) => d.isDirectory() && !d.name.startsWith('.') && !['node_modules', 'docs', 'deploy', 'coverage', 'dist'].includes(d.name))
  .map((d) => d.name);
const others = (...mine) => OUR_FOLDERS.filter((f) => !mine.includes(f)).map((f) => `./${f}`);

// Node built-ins by bare name (builtinModules lists sub-paths such as fs/promises too) and any `node:` name: none is deterministic or available in a workflow bundle.
const nodeBuiltins = {
  paths: [...new Set(builtinModules.filter((m) => !m.startsWith('_')).map((m) => m.replace(/^node:/, '')))].map((name) => ({
    name,
    message: 'Node built-ins are banned here (workflows must stay deterministic; domain stays portable).',
  })),
  patterns: [
    { group: ['node:*'], message: 'Node built-ins are banned here (workflows must stay deterministic; domain stays portable).' },
  ],
};

const zodBan = (message) => ({
  paths: [{ name: 'zod', message }, { name: '@asteasolutions/zod-to-openapi', message }],
  patterns: [{ regex: '^zod/', message }],
});

/** Merges restriction sets into one @typescript-eslint/no-restricted-imports option (a later config block would replace, not add). */
const restrict = (...sets) => [
  'error',
  { paths: sets.flatMap((s) => s.paths ?? []), patterns: sets.flatMap((s) => s.patterns ?? []) },
];

const workflowBans = {
  paths: [
    ...['pino', 'pino-http', 'pg', 'drizzle-orm', 'express', 'prom-client', '@temporalio/worker', '@temporalio/client', '@temporalio/activity'].map((name) => ({
      name,
      message: 'Workflow code is deterministic and sandboxed: side effects belong in activities/.',
    })),
  ],
  patterns: [
    { regex: '^drizzle-orm/', message: 'Workflow code never touches the database: use an activity.' },
  ],
};

/** A value import (not `import type`) whose relative path resolves inside one of the given folders. */
const noValueImportsFrom = {
  meta: {
    type: 'problem',
    docs: { description: 'Allow only type imports from the given project folders.' },
    schema: [{ type: 'object', properties: { folders: { type: 'array', items: { type: 'string' } }, message: { type: 'string' } }, additionalProperties: false }],
  },
  create(context) {
    const { folders = [], message = 'Only type imports are allowed from here.' } = context.options[0] ?? {};
    const roots = folders.map((f) => path.resolve(ROOT, f));
    const check = (node, source, typeOnly) => {
      if (typeOnly || !source || typeof source.value !== 'string' || !source.value.startsWith('.')) return;
      const target = path.resolve(path.dirname(context.physicalFilename), source.value);
      if (roots.some((r) => target === r || target.startsWith(r + path.sep))) context.report({ node, message: `'${source.value}': ${message}` });
    };
    const allTypes = (specifiers) => specifiers.length > 0 && specifiers.every((s) => s.importKind === 'type' || s.exportKind === 'type');
    return {
      ImportDeclaration: (node) => check(node, node.source, node.importKind === 'type' || allTypes(node.specifiers)),
      ExportNamedDeclaration: (node) => check(node, node.source, node.exportKind === 'type' || allTypes(node.specifiers)),
      ExportAllDeclaration: (node) => check(node, node.source, node.exportKind === 'type'),
      ImportExpression: (node) => check(node, node.source, false),
    };
  },
};
const local = { rules: { 'no-value-imports-from': noValueImportsFrom } };

export default defineConfig(
  {
    ignores: ['node_modules/', '.data/', '.tools/', '.test-data/', '.bench-data/', 'db/migrations/', 'ui/vendor/', 'bench/out/', 'coverage/', 'dist/'],
  },
  {
    // Off: directives for rules this config does not enable (editors' recommended sets) are harmless.
    linterOptions: { reportUnusedDisableDirectives: 'off' },
  },
  {
    files: ['**/*.{js,mjs,cjs,ts,tsx,mts,cts}'],
    plugins: { 'import-x': importX, '@typescript-eslint': tseslint.plugin, takedown: local },
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    settings: {
      'import-x/extensions': ['.ts', '.tsx', '.mts', '.cts', '.js', '.mjs', '.cjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx', '.mts', '.cts'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.tsx', '.mts', '.cts', '.js', '.mjs', '.cjs', '.json'] })],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    files: TS_FILES,
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: ROOT },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },

  // Folder boundaries. Path rules resolve the import, so `../db`, `../../db/schema` and an index file all count.
  {
    files: ['domain/**'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        { basePath: ROOT, zones: [{ target: './domain', from: others('domain'), message: 'domain/ imports nothing of ours.' }] },
      ],
      '@typescript-eslint/no-restricted-imports': restrict(nodeBuiltins, zodBan('Only domain/schemas.ts may use zod: workflows import domain/, and zod in a workflow bundle has crashed workers.')),
    },
  },
  {
    files: ['domain/schemas.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': restrict(nodeBuiltins) },
  },
  {
    files: ['workflows/**'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          basePath: ROOT,
          zones: [
            { target: './workflows', from: './db', message: 'Workflows never touch the database: use an activity.' },
            { target: './workflows', from: './domain/schemas.ts', message: 'domain/schemas.ts brings zod into the workflow bundle: import plain types and rules.' },
            { target: './workflows', from: others('workflows', 'domain', 'activities', 'db'), message: 'workflows/ may import domain/ and activity types only.' },
          ],
        },
      ],
      'takedown/no-value-imports-from': ['error', { folders: ['activities'], message: 'workflows may import activity types only (`import type`); call activities through proxyActivities.' }],
      '@typescript-eslint/no-restricted-imports': restrict(nodeBuiltins, zodBan('No zod in workflow bundles (it has crashed workers out of memory): validators use plain rule functions.'), workflowBans),
    },
  },
  {
    files: ['api/**'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        { basePath: ROOT, zones: [{ target: './api', from: './activities', message: 'The API never runs activities: it asks the workflow or reads PostgreSQL.' }] },
      ],
    },
  },
  {
    files: ['ui/**'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        { basePath: ROOT, zones: [{ target: './ui', from: others('ui'), message: 'The console talks to the API over HTTP only.' }] },
      ],
    },
  },
);
