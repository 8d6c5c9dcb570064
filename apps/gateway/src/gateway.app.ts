import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppDefinition } from '@concord/platform';
import { type GatewayConfig, gatewayConfigSchema } from './config.js';
import { GatewayModule } from './gateway.module.js';
import { GatewayService } from './gateway.service.js';

/** The gateway as runApp boots it; tests boot the same definition in-process. */
export function gatewayDefinition(
  options: { handleSignals?: boolean } = {},
): AppDefinition<typeof gatewayConfigSchema> {
  return {
    name: 'gateway',
    configSchema: gatewayConfigSchema,
    module: (config) => GatewayModule.register(config),
    handleSignals: options.handleSignals ?? true,
    configure: (app, config: GatewayConfig) => {
      const fastify = app.getHttpAdapter().getInstance();
      // A slow client gets a bounded time for its headers and its whole request (slowloris).
      fastify.server.headersTimeout = config.CLIENT_HEADERS_TIMEOUT_MS;
      fastify.server.requestTimeout = config.CLIENT_REQUEST_TIMEOUT_MS;
      // Node enforces both from a periodic sweep (30 s by default, read when the server starts listening):
      // sweep often enough that the limits mean what they say.
      // (A plain property since Node 18.12; @types/node 20 does not declare it.)
      (fastify.server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval = Math.min(
        1_000,
        config.CLIENT_HEADERS_TIMEOUT_MS,
      );
      // The proxy answers first; whatever it does not serve goes on to Fastify (and Nest).
      const proxy = app.get(GatewayService).proxy;
      const server = fastify.server;
      const fallThrough = server.listeners('request') as ((
        req: IncomingMessage,
        res: ServerResponse,
      ) => void)[];
      server.removeAllListeners('request');
      server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        if (proxy.handle(req, res)) return;
        for (const listener of fallThrough) listener.call(server, req, res);
      });
    },
  };
}
