import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type DynamicModule, type INestApplication, Module, type Type } from '@nestjs/common';
import { ModuleRef, NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { type BaseConfig, ConfigError, instanceIdentity, loadConfig } from './config/config.js';
import { InternalAuthenticator } from './auth/internal-auth.guard.js';
import { toProblem } from './http/problem.js';
import { ReadinessRegistry } from './health/readiness.js';
import { createLogger, JsonNestLogger, requestContext } from './logging/logger.js';
import { Metrics } from './metrics/metrics.js';
import { PlatformModule } from './platform.module.js';
import { httpServerSpan, startTracing, tracingOn } from './tracing/tracing.js';

export interface AppDefinition<S extends z.ZodObject> {
  /** The app's name, as in `apps/<name>`. */
  readonly name: string;
  readonly configSchema: S;
  /** The app's root module, built from its validated configuration. */
  readonly module: (config: z.infer<S>) => DynamicModule | Type;
  /** Largest request body accepted, in bytes (413 beyond). */
  readonly bodyLimitBytes?: number;
  /** Runs after the app is created and before it listens (extra Fastify hooks, Swagger...). */
  readonly configure?: (app: NestFastifyApplication, config: z.infer<S>) => Promise<void> | void;
  /** Routes (as declared, e.g. `/v1/leases/:id/keepalive`) whose requests are logged at debug, not info. */
  readonly quietRoutes?: readonly string[];
  /** Install SIGTERM/SIGINT handlers (default true; in-process tests turn it off and call `close()`). */
  readonly handleSignals?: boolean;
}

function optionalProvider<T>(app: INestApplication, token: Type<T>): T | undefined {
  // Through ModuleRef, not app.get: Nest's application proxy logs every failed lookup as an ERROR line
  // ("could not find ... element") before rethrowing, and an app without the provider is not an error.
  try {
    return app.get(ModuleRef).get(token, { strict: false });
  } catch {
    return undefined;
  }
}

export interface RunningApp {
  readonly app: INestApplication;
  readonly url: string;
  close(): Promise<void>;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;
/** Health probes and metric scrapes: logged at debug by every app. */
/** A request on a quiet route that takes at least this long is logged at info all the same. */
const SLOW_REQUEST_MS = 1_000;
const CHATTER_ROUTES: ReadonlySet<string> = new Set(['/health', '/health/ready', '/metrics']);

/**
 * Boots one Concord app: validates configuration (a bad variable stops start-up with one line naming it),
 * JSON logs with request ids, health, readiness, metrics, problem bodies, and graceful shutdown on SIGTERM:
 * readiness turns to "draining", the server stops accepting, in-flight requests finish (up to
 * SHUTDOWN_GRACE_MS), then connections and modules close.
 */
export async function runApp<S extends z.ZodObject>(
  definition: AppDefinition<S>,
  environment: Record<string, string | undefined> = process.env,
): Promise<RunningApp> {
  let config: z.infer<S> & BaseConfig;
  try {
    config = loadConfig(definition.configSchema, environment) as z.infer<S> & BaseConfig;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${definition.name}: invalid configuration: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const { instanceId } = instanceIdentity(definition.name, config);
  const logger = createLogger(definition.name, instanceId, config.LOG_LEVEL);
  // Before any module is built: the platform registers its tracing interceptor only when tracing is on.
  const tracing = await startTracing(definition.name, instanceId, environment);

  @Module({
    imports: [
      PlatformModule.forRoot({ app: definition.name, instanceId }, config, logger),
      definition.module(config),
    ],
  })
  class RootModule {}

  const adapter = new FastifyAdapter({
    bodyLimit: definition.bodyLimitBytes ?? 1024 * 1024,
    requestIdHeader: false,
    // A path parameter longer than Fastify's default 100 characters made the router answer its own 404 (not a
    // problem body); the route's validation refuses it instead, naming the parameter. Set under routerOptions: the
    // top-level option is deprecated in Fastify 5 and printed a warning at every start.
    routerOptions: { maxParamLength: 8_192 },
    genReqId: (req: IncomingMessage) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Idle keep-alive connections are closed at once on shutdown; busy ones finish their request.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // The socket inactivity timeout stays above keepAliveTimeout, so that an idle keep-alive connection is only
    // ever closed by keepAliveTimeout, which responses advertise (`Keep-Alive: timeout=72`) and clients such as
    // undici honour by not reusing a connection within a second of it.
    connectionTimeout: 75_000,
    requestTimeout: 60_000,
    keepAliveTimeout: 72_000,
  });
  const app = await NestFactory.create<NestFastifyApplication>(RootModule, adapter, {
    logger: new JsonNestLogger(logger),
    abortOnError: false,
    // The platform registers the JSON parser itself (below), so that an empty JSON body is accepted.
    bodyParser: false,
  });
  const metrics = app.get(Metrics);
  const tracedRequests = new WeakMap<FastifyRequest, ReturnType<typeof httpServerSpan>>();
  const quietRoutes: ReadonlySet<string> = new Set(definition.quietRoutes ?? []);
  const fastify = app.getHttpAdapter().getInstance();

  // An empty body with a JSON content type (as `curl -X POST -H 'content-type: application/json'` sends) is no
  // body, not a syntax error; anything else goes through Fastify's parser, which refuses prototype poisoning.
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) {
      done(null, undefined);
      return;
    }
    void parseJson(request, body.toString(), done);
  });
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    if (tracingOn) {
      // A SERVER span per request, child of the caller's traceparent, active while the request is served.
      const span = httpServerSpan(request.method, request.url, request.headers);
      tracedRequests.set(request, span);
      requestContext.run({ requestId: request.id }, () => span.run(done));
      return;
    }
    requestContext.run({ requestId: request.id }, done);
  });
  fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: request.method, route }, seconds);
    const traced = tracingOn ? tracedRequests.get(request) : undefined;
    traced?.end(route, reply.statusCode);
    // Probes, scrapes and the app's own chatter (lease keep-alives) come every few seconds from every peer:
    // at debug, so that a process at rest writes next to nothing at info.
    // A quiet route's failures (5xx) and slow answers still log at info: those are the ones worth reading.
    const level =
      (CHATTER_ROUTES.has(route) || quietRoutes.has(route)) &&
      reply.statusCode < 500 &&
      reply.elapsedTime < SLOW_REQUEST_MS
        ? 'debug'
        : 'info';
    if (logger.isLevelEnabled(level)) {
      logger[level](
        {
          requestId: request.id,
          method: request.method,
          url: request.url,
          status: reply.statusCode,
          ms: reply.elapsedTime,
          ...(traced === undefined
            ? {}
            : { traceId: traced.span.spanContext().traceId, spanId: traced.span.spanContext().spanId }),
        },
        'request',
      );
    }
    done();
  });
  // /docs is served by Swagger's own Fastify routes, outside Nest's guards: the same rule as /metrics here.
  const authenticator = optionalProvider(app, InternalAuthenticator);
  if (authenticator !== undefined) {
    fastify.addHook('onRequest', async (request, reply) => {
      const url = request.url;
      if (!(
        url === '/docs' ||
        url.startsWith('/docs/') ||
        url.startsWith('/docs-') ||
        url.startsWith('/docs?')
      )) {
        return;
      }
      try {
        await authenticator.authorizeOps(request);
      } catch (error) {
        const body = toProblem(error);
        body.requestId = request.id;
        return reply.status(body.status).type('application/problem+json').send(body);
      }
    });
  }
  await definition.configure?.(app, config);
  try {
    await app.listen({ port: config.PORT, host: config.HOST });
  } catch (error) {
    // A port taken by another process is an operator's problem: one line that says which, not a stack trace.
    process.stderr.write(
      `${definition.name}: cannot listen on ${config.HOST}:${config.PORT}: ${(error as Error).message}\n`,
    );
    process.exit(1);
  }
  const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${config.PORT}`;
  logger.info({ url, pid: process.pid }, `${definition.name} listening`);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      app.get(ReadinessRegistry).startDraining();
      const grace = setTimeout(() => {
        logger.warn(
          { graceMs: config.SHUTDOWN_GRACE_MS },
          'shutdown grace period over; exiting with requests in flight',
        );
        process.exit(1);
      }, config.SHUTDOWN_GRACE_MS);
      grace.unref();
      await app.close();
      await tracing.shutdown();
      clearTimeout(grace);
      logger.info('shutdown complete');
    })();
    return closing;
  };
  for (const signal of definition.handleSignals === false ? [] : (['SIGTERM', 'SIGINT'] as const)) {
    process.once(signal, () => {
      logger.info({ signal }, 'shutting down');
      close().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
  return { app, url, close };
}
