import type { CoordinationClient } from '@concord/coordination-client';
import { combineOpenApi, type OpenApiDocument, type ServiceDocument } from './combined-openapi.js';

export interface CombinedApiDocsOptions {
  /** The services behind the gateway, each documented at /api/{service}. */
  readonly services: readonly string[];
  /** Where instances are found; null without a coordinator (the document then lists every service unavailable). */
  readonly registry: Pick<CoordinationClient, 'services'> | null;
  readonly version: string;
  /** How long one combined document is served before the parts are fetched again. */
  readonly cacheMs?: number;
  readonly fetchTimeoutMs?: number;
  readonly now?: () => number;
}

/**
 * Fetches each service's /docs-json from the first registered instance that answers and combines them. Cached
 * for a few seconds, and concurrent requests share one round of fetches, so /docs costs the services nothing
 * under load.
 */
export class CombinedApiDocs {
  private cached: { at: number; document: OpenApiDocument } | undefined;
  private pending: Promise<OpenApiDocument> | undefined;

  constructor(private readonly options: CombinedApiDocsOptions) {}

  async document(): Promise<OpenApiDocument> {
    const now = (this.options.now ?? Date.now)();
    if (this.cached !== undefined && now - this.cached.at < (this.options.cacheMs ?? 10_000))
      return this.cached.document;
    this.pending ??= this.build().finally(() => {
      this.pending = undefined;
    });
    const document = await this.pending;
    this.cached = { at: now, document };
    return document;
  }

  private async build(): Promise<OpenApiDocument> {
    const parts = await Promise.all(
      this.options.services.map(async (service): Promise<ServiceDocument> => ({
        service,
        document: await this.fetchOne(service),
      })),
    );
    return combineOpenApi(parts, this.options.version);
  }

  private async fetchOne(service: string): Promise<OpenApiDocument | undefined> {
    if (this.options.registry === null) return undefined;
    const { instances } = await this.options.registry.services(service).catch(() => ({ instances: [] }));
    for (const instance of instances) {
      try {
        const response = await fetch(new URL('/docs-json', instance.url), {
          signal: AbortSignal.timeout(this.options.fetchTimeoutMs ?? 2_000),
        });
        if (response.ok) return (await response.json()) as OpenApiDocument;
      } catch {
        // the next instance
      }
    }
    return undefined;
  }
}
