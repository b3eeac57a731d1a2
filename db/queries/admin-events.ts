// What admins changed outside any case (db/migrations/0020): appended in the transaction of the change, read by admins and auditors.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Actor } from '../../domain/types';
import type { Db } from '../client';
import { adminEvents } from '../schema';

export type AdminAction = 'partner.updated' | 'principal.created' | 'principal.revoked';

export interface AdminEvent {
  id: string;
  at: string;
  actor: { id: string; org: string };
  action: AdminAction;
  subject: string;
  data: Record<string, unknown>;
}

/** Appends one event; `tx` is the change's own transaction, so the event and the change commit together or not at all. */
export async function recordAdminEvent(tx: Pick<Db, 'insert'>, actor: Actor, action: AdminAction, subject: string, data: Record<string, unknown>): Promise<void> {
  await tx.insert(adminEvents).values({ id: `adm_${randomUUID().replaceAll('-', '')}`, at: new Date(), actorId: actor.id, actorOrg: actor.org, action, subject, data });
}

/** Newest first, `limit` of them, from just past `before` (the last one of the previous page) when given. */
export async function listAdminEvents(pool: pg.Pool, limit: number, before?: { at: string; id: string }): Promise<AdminEvent[]> {
  const { rows } = await pool.query<{ id: string; at: Date; actor_id: string; actor_org: string; action: AdminAction; subject: string; data: Record<string, unknown> }>(
    `SELECT id, at, actor_id, actor_org, action, subject, data FROM admin_events
      WHERE $1::timestamptz IS NULL OR (at, id) < ($1::timestamptz, $2::text)
      ORDER BY at DESC, id DESC LIMIT $3`,
    [before?.at ?? null, before?.id ?? null, limit],
  );
  return rows.map((r) => ({ id: r.id, at: r.at.toISOString(), actor: { id: r.actor_id, org: r.actor_org }, action: r.action, subject: r.subject, data: r.data }));
}
