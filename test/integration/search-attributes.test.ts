// A start against a Temporal namespace without the case workflow's search attributes fails, naming how to register them.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { checkSearchAttributes, connectTemporal } from '../../scripts/lib/runtime';

let connection: Connection;
const log = pino({ level: 'silent' });

beforeAll(async () => {
  connection = await connectTemporal(inject('temporalAddress'));
});
afterAll(async () => {
  await connection?.close();
});

describe('search attributes at start', () => {
  it('passes where they are registered, and fails naming each missing one and the command that registers it', async () => {
    await expect(checkSearchAttributes(connection, 'default', log)).resolves.toBeUndefined();
    const bare = `bare-${randomBytes(4).toString('hex')}`;
    await connection.workflowService.registerNamespace({ namespace: bare, workflowExecutionRetentionPeriod: msToTs('1 day') });
    const failure = await checkSearchAttributes(connection, bare, log).then(
      () => null,
      (err: Error) => err.message,
    );
    expect(failure).toContain(`Temporal namespace ${bare} lacks the search attributes CaseReference, CaseStatus, MerchantIds, Jurisdiction`);
    expect(failure).toContain(`temporal operator search-attribute create --namespace ${bare} --name MerchantIds --type KeywordList`);
  });
});
