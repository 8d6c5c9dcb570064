import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Controller, Get, Header, Inject, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { ProblemException } from '@concord/platform';
import type { FastifyReply } from 'fastify';
import { CombinedApiDocs } from './combined-api-docs.js';

/** swagger-ui-dist's directory (the package @nestjs/swagger serves each instance's own /docs from). */
const SWAGGER_UI_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** The Swagger UI files the page below loads; nothing else of the package is served. */
const ASSETS: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'application/javascript; charset=utf-8',
};

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Concord API</title><link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script>
</body></html>`;

const INIT = `window.ui = SwaggerUIBundle({ url: '/docs-json', dom_id: '#ui', deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout' });`;

/**
 * GET /docs (Swagger UI) and GET /docs-json: one OpenAPI document for every service behind the gateway, paths
 * under /api/{service}. Public, like each instance's own /docs: it describes the API, it grants nothing.
 * A Nest controller beside the proxy (which is a Fastify route of its own); find-my-way prefers these static
 * paths to the proxy's wildcard.
 */
@ApiExcludeController()
@Controller()
export class ApiDocsController {
  constructor(@Inject(CombinedApiDocs) private readonly docs: CombinedApiDocs) {}

  @Get('docs-json')
  async json(): Promise<unknown> {
    return this.docs.document();
  }

  @Get('docs')
  @Header('content-type', 'text/html; charset=utf-8')
  page(): string {
    return PAGE;
  }

  @Get('docs/init.js')
  @Header('content-type', 'application/javascript; charset=utf-8')
  init(): string {
    return INIT;
  }

  @Get('docs/assets/:file')
  async asset(@Param('file') file: string, @Res() reply: FastifyReply): Promise<void> {
    const type = ASSETS[file];
    if (type === undefined) throw new ProblemException(404, `no asset ${file}`);
    const body = await readFile(path.join(SWAGGER_UI_DIR, file));
    await reply.header('content-type', type).header('cache-control', 'public, max-age=3600').send(body);
  }
}
