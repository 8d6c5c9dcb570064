import { type DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Clock } from '../time/clock.js';
import {
  INTERNAL_AUTH_OPTIONS,
  InternalAuthenticator,
  InternalAuthGuard,
  isLoopbackHost,
} from './internal-auth.guard.js';
import { InternalTokenVerifier, OperatorToken, parseInternalTokenPublicKey } from './internal-token.js';

export interface InternalAuthConfig {
  readonly INTERNAL_TOKEN_PUBLIC_KEY: string;
  readonly OPERATOR_TOKEN?: string | undefined;
  readonly INTERNAL_TOKEN_CACHE_ENTRIES?: number | undefined;
  readonly HOST: string;
}

/**
 * Makes every HTTP route of a service require a credential (the global {@link InternalAuthGuard}); `audience`
 * is the service's name, the only `aud` its tokens may carry. Every service imports it, and so does the
 * `npm run new:service` template.
 */
@Module({})
export class InternalAuthModule {
  static forRoot(audience: string, config: InternalAuthConfig): DynamicModule {
    return {
      module: InternalAuthModule,
      global: true,
      providers: [
        {
          provide: INTERNAL_AUTH_OPTIONS,
          inject: [Clock],
          useFactory: (clock: Clock) => ({
            verifier: new InternalTokenVerifier({
              publicKey: parseInternalTokenPublicKey(config.INTERNAL_TOKEN_PUBLIC_KEY),
              audience,
              nowMs: () => clock.nowMs(),
              ...(config.INTERNAL_TOKEN_CACHE_ENTRIES === undefined
                ? {}
                : { cacheEntriesMax: config.INTERNAL_TOKEN_CACHE_ENTRIES }),
            }),
            operatorToken:
              config.OPERATOR_TOKEN === undefined ? undefined : new OperatorToken(config.OPERATOR_TOKEN),
            listenerIsLoopback: isLoopbackHost(config.HOST),
          }),
        },
        Clock,
        InternalAuthenticator,
        { provide: APP_GUARD, useClass: InternalAuthGuard },
      ],
      exports: [InternalAuthenticator],
    };
  }
}
