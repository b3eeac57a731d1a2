// Configuration defaults that differ between development and production.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadConfig } from '../../scripts/config';
import { resolveAdminToken } from '../../scripts/lib/runtime';

const TOKEN = { TAKEDOWN_ADMIN_TOKEN: 'a-production-admin-token-0123456789' };

describe('configuration', () => {
  it('limits requests per principal in production by default, not in development, and takes an explicit limit', () => {
    expect(loadConfig({}).rateLimitPerMinute).toBe(0);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN }).rateLimitPerMinute).toBe(1200);
    expect(loadConfig({ TAKEDOWN_RATE_LIMIT_PER_MINUTE: '300' }).rateLimitPerMinute).toBe(300);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN, TAKEDOWN_RATE_LIMIT_PER_MINUTE: '0' }).rateLimitPerMinute).toBe(0);
    expect(() => loadConfig({ TAKEDOWN_RATE_LIMIT_PER_MINUTE: '-1' })).toThrow(/TAKEDOWN_RATE_LIMIT_PER_MINUTE/);
  });

  it('refuses private webhook addresses in production unless allowed, and allows them in development', () => {
    expect(loadConfig({}).allowPrivateWebhooks).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN }).allowPrivateWebhooks).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN, TAKEDOWN_ALLOW_PRIVATE_WEBHOOKS: 'true' }).allowPrivateWebhooks).toBe(true);
  });

  it('serves /metrics without a token in development only, unless configured', () => {
    expect(loadConfig({}).metricsPublic).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN }).metricsPublic).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN, TAKEDOWN_METRICS_PUBLIC: '1' }).metricsPublic).toBe(true);
    expect(loadConfig({ TAKEDOWN_METRICS_PUBLIC: 'false' }).metricsPublic).toBe(false);
  });

  it('takes any non-empty admin token, warns about a short one, and counts an empty one as unset', () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const short = loadConfig({ NODE_ENV: 'production', TAKEDOWN_ADMIN_TOKEN: 'admin' });
    expect(resolveAdminToken(short, log)).toEqual({ token: 'admin', generated: false });
    expect(lines.join('')).toMatch(/fewer than 16 characters/);

    lines.length = 0;
    expect(resolveAdminToken(loadConfig({ NODE_ENV: 'production', ...TOKEN }), log).token).toBe(TOKEN.TAKEDOWN_ADMIN_TOKEN);
    expect(lines).toEqual([]);

    // Empty is unset: production refuses to start without one.
    const empty = loadConfig({ NODE_ENV: 'production', TAKEDOWN_ADMIN_TOKEN: '' });
    expect(empty.adminToken).toBeUndefined();
    expect(() => resolveAdminToken(empty, log)).toThrow(/TAKEDOWN_ADMIN_TOKEN is required/);
  });
});
