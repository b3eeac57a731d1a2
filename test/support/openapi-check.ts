// Checks an API answer against the OpenAPI document the API serves (api/openapi.ts): its status must be one the
// operation declares, and its JSON body must match the schema declared for that status. The integration harness runs
// it on every answer, so the document cannot drift from what the routes send without a test failing.
import { isIP } from 'node:net';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { buildOpenApiDocument } from '../../api/openapi';

type Operation = { responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> };
type Doc = ReturnType<typeof buildOpenApiDocument> & { paths: Record<string, Record<string, Operation>> };

let compiled: { doc: Doc; routes: { template: string; re: RegExp }[]; ajv: Ajv2020; validators: Map<string, ValidateFunction> } | undefined;

function load() {
  if (compiled) return compiled;
  const doc = buildOpenApiDocument() as Doc;
  // JSON Schema 2020-12, as OpenAPI 3.1 writes its schemas; OpenAPI's own keywords (example, discriminator...) allowed.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  // The generator writes z.ipv4()/z.ipv6() as format "ip", which ajv-formats does not know.
  ajv.addFormat('ip', (value: string) => isIP(value) !== 0);
  ajv.addSchema({ $id: 'openapi.json', components: doc.components });
  // Literal paths before templated ones (`/v1/tasks/{id}` must not take `/v1/tasks/count` if there were one).
  const routes = Object.keys(doc.paths)
    .sort((a, b) => (a.split('{').length - b.split('{').length) || b.length - a.length)
    .map((template) => ({ template, re: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`) }));
  compiled = { doc, routes, ajv, validators: new Map() };
  return compiled;
}

/** The schema refs of a document fragment, pointed at the registered components. */
function rebased(schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi.json#/components/'));
}

/**
 * What is wrong with an answer of `method path` (query string allowed), or null when it matches the document, or when
 * the document does not describe the request and it failed (a 404 or 405 of the router) or is not the API's (the console).
 */
export function openApiMismatch(method: string, path: string, status: number, contentType: string | undefined, body: unknown): string | null {
  const { doc, routes, ajv, validators } = load();
  // OPTIONS is answered for every path alike (204 with Allow); HEAD is a GET without its body.
  if (method === 'OPTIONS') return null;
  const pathname = path.split('?')[0];
  const route = routes.find((r) => r.re.test(pathname));
  const op = route ? doc.paths[route.template][method === 'HEAD' ? 'get' : method.toLowerCase()] : undefined;
  // A request the document does not describe must not succeed: a route missing from the document would.
  if (!route || !op) return pathname.startsWith('/v1/') && status < 400 ? `${method} ${pathname} answered ${status}, but the document has no such operation` : null;
  const declared = op.responses?.[String(status)] ?? op.responses?.default;
  const where = `${method} ${route.template} answered ${status}`;
  if (!declared) return `${where}, a status its operation does not declare (${Object.keys(op.responses ?? {}).join(', ')})`;
  const type = (contentType ?? '').split(';')[0].trim();
  if (!declared.content || status === 304 || status === 204 || method === 'HEAD') return null;
  const media = declared.content[type];
  if (!media) return `${where} as ${type}, not as ${Object.keys(declared.content).join(' or ')}`;
  // JSON bodies are checked against their schema; others (NDJSON, Prometheus text) by their media type alone.
  if (!/^application\/(?:[\w.-]+\+)?json$/.test(type) || !media.schema) return null;
  const key = `${route.template} ${method} ${status} ${type}`;
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(rebased(media.schema) as object);
    validators.set(key, validate);
  }
  if (validate(body)) return null;
  const errors = (validate.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
  return `${where}: the body does not match the document: ${errors.join('; ')}`;
}
