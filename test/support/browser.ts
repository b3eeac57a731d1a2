// Headless Debian Chromium driven by playwright-core for the console tests: a fresh profile per launch, removed on close.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { presentEnv } from '../../scripts/config';

export const CHROMIUM_PATH = presentEnv().CHROMIUM_PATH ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  /** Uncaught page errors and console errors other than failed HTTP answers (which the console expects and shows). */
  problems: string[];
  close(): Promise<void>;
}

export async function launchChromium(opts: { viewport?: { width: number; height: number }; downloadsPath?: string } = {}): Promise<BrowserSession> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: install it with "apt-get install -y --no-install-recommends chromium" (or set CHROMIUM_PATH)`);
  }
  const profile = await mkdtemp(path.join(os.tmpdir(), 'takedown-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: opts.viewport ?? { width: 1366, height: 860 },
      acceptDownloads: true,
      ...(opts.downloadsPath ? { downloadsPath: opts.downloadsPath } : {}),
      timezoneId: 'UTC',
      locale: 'en-GB',
    });
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
  const problems: string[] = [];
  // Every page of the context, those opened later too (a test on a page of its own): errors thrown, and errors logged
  // (a Content-Security-Policy violation among them), but not a 4xx or a 503 the page asked for and shows as such.
  const watch = (p: Page) => {
    p.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    p.on('console', (msg) => {
      if (msg.type() === 'error' && !/^Failed to load resource: the server responded with a status of (4\d\d|503)/.test(msg.text())) problems.push(`console: ${msg.text()}`);
    });
  };
  context.on('page', watch);
  for (const p of context.pages()) watch(p);
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    problems,
    async close() {
      await context.close().catch(() => {});
      await rm(profile, { recursive: true, force: true });
    },
  };
}
