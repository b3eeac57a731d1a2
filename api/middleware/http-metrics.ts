// Request rates and latencies for /metrics, labelled by route pattern so that ids never become label values.
import type { RequestHandler } from 'express';
import { observeHttpRequest } from '../../telemetry/metrics';

/**
 * Observes every answered request: method, the pattern of the route that answered it (the API's routes live under /v1,
 * where a failed request's base URL is already unwound when it finishes, so the prefix is told from the original URL),
 * status, and the time from arrival to the last byte. A request no route answered (a 404, a console file) is `other`.
 */
export const httpMetrics: RequestHandler = (req, res, next) => {
  const started = performance.now();
  res.once('finish', () => {
    const pattern = req.route?.path;
    const route = typeof pattern === 'string' ? `${req.originalUrl.startsWith('/v1/') ? '/v1' : ''}${pattern}` : 'other';
    observeHttpRequest(req.method, route, res.statusCode, (performance.now() - started) / 1000);
  });
  next();
};
