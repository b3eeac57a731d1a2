// What admins changed outside any case (partners' webhooks and secrets, principals created or revoked), for admins and auditors.
import { Router } from 'express';
import { listAdminEvents } from '../../db/queries/admin-events';
import { AdminEventListQuerySchema } from '../../domain/schemas';
import type { ApiDeps } from '../app';
import { decodeCursor, encodeCursor } from '../cursor';
import { requireRoles } from '../middleware/auth';
import { methodNotAllowed } from '../middleware/problem';
import { parseQueryOr422 } from '../middleware/validate';

export function adminRouter(deps: ApiDeps): Router {
  const r = Router();
  r.route('/admin/events')
    .get(requireRoles('admin', 'auditor'), async (req, res) => {
      const q = parseQueryOr422(AdminEventListQuerySchema, req.query);
      const after = decodeCursor(q.cursor);
      const rows = await listAdminEvents(deps.pool, q.limit + 1, after && { at: after.createdAt, id: after.id });
      const items = rows.slice(0, q.limit);
      const last = items[items.length - 1];
      res.json({ items, nextCursor: rows.length > q.limit && last ? encodeCursor(last.at, last.id) : null });
    })
    .all(methodNotAllowed(['GET']));
  return r;
}
