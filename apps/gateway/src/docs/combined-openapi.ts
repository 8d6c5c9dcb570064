/**
 * One OpenAPI document for everything behind the gateway (pure; the controller fetches the parts).
 *
 * Each service serves its own document at /docs-json, with paths as the service sees them (`/v1/orders`). Through
 * the gateway those paths live under `/api/{service}`, so the combined document prefixes every path, tags each
 * operation with its service, and namespaces component schemas (`orders.PlaceOrder`) so that two services may use
 * the same schema name. Operational endpoints (/health, /metrics, /docs) are left out: they are each instance's,
 * not the API's.
 */

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, unknown>>;
  components?: { schemas?: Record<string, unknown>; securitySchemes?: Record<string, unknown> };
  tags?: { name: string; description?: string }[];
  [extension: string]: unknown;
}

export interface ServiceDocument {
  readonly service: string;
  /** undefined when no instance of the service answered. */
  readonly document: OpenApiDocument | undefined;
}

const OPERATIONAL_PATH = /^\/(health|metrics|docs)(\/|-|$)/;
const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

export function combineOpenApi(parts: readonly ServiceDocument[], version: string): OpenApiDocument {
  const combined: OpenApiDocument = {
    openapi: '3.0.0',
    info: {
      title: 'Concord API (through the gateway)',
      version,
      description:
        'Every service behind the gateway, under /api/{service}. Requests need "Authorization: Bearer <JWT>" ' +
        '(npm run token). Each instance also serves its own document at /docs.',
    },
    paths: {},
    components: {
      schemas: {},
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
    security: [{ bearer: [] }],
    tags: [],
  };
  const unavailable: string[] = [];
  for (const { service, document } of parts) {
    if (document === undefined) {
      unavailable.push(service);
      continue;
    }
    combined.tags?.push({ name: service, description: document.info.description ?? document.info.title });
    const rename = (ref: string): string =>
      ref.replace(
        /^#\/components\/schemas\/(.+)$/,
        (_m, name: string) => `#/components/schemas/${service}.${name}`,
      );
    for (const [name, schema] of Object.entries(document.components?.schemas ?? {})) {
      (combined.components?.schemas ?? {})[`${service}.${name}`] = rewriteRefs(schema, rename);
    }
    for (const [path, item] of Object.entries(document.paths ?? {})) {
      if (OPERATIONAL_PATH.test(path)) continue;
      const operations: Record<string, unknown> = {};
      for (const [method, operation] of Object.entries(item)) {
        if (!HTTP_METHODS.has(method) || typeof operation !== 'object' || operation === null) {
          operations[method] = rewriteRefs(operation, rename);
          continue;
        }
        const op = rewriteRefs(operation, rename) as Record<string, unknown>;
        operations[method] = {
          ...op,
          tags: [service],
          ...(typeof op['operationId'] === 'string'
            ? { operationId: `${service}_${op['operationId']}` }
            : {}),
        };
      }
      combined.paths[`/api/${service}${path}`] = operations;
    }
  }
  if (unavailable.length > 0) {
    combined['x-unavailable-services'] = unavailable;
    combined.info.description += ` Not included (no instance answered): ${unavailable.join(', ')}.`;
  }
  return combined;
}

function rewriteRefs(value: unknown, rename: (ref: string) => string): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteRefs(v, rename));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = key === '$ref' && typeof v === 'string' ? rename(v) : rewriteRefs(v, rename);
  }
  return out;
}
