// Archives a closed case's Temporal history into PostgreSQL, so auditors keep it after Temporal's retention drops it.
import type { ArchiveArgs } from '../activities/types';
import { archive } from './activities';

export async function archiveHistoryWorkflow(args: ArchiveArgs): Promise<{ hash: string; runs: number }> {
  return archive.archiveHistory(args);
}
