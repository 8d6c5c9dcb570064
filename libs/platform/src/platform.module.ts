import { type DynamicModule, Global, Module } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR } from '@nestjs/core';
import type { Logger } from 'pino';
import { HealthController } from './health/health.controller.js';
import { ReadinessRegistry } from './health/readiness.js';
import { Metrics, MetricsController } from './metrics/metrics.js';
import { ProblemFilter } from './http/problem.js';
import { NatsTracingInterceptor } from './tracing/tracing.interceptor.js';
import { tracingOn } from './tracing/tracing.js';

/** Injection tokens for what the platform provides to every app. */
export const APP_CONFIG = Symbol('APP_CONFIG');
export const APP_LOGGER = Symbol('APP_LOGGER');
export const APP_IDENTITY = Symbol('APP_IDENTITY');

export interface AppIdentity {
  readonly app: string;
  readonly instanceId: string;
}

/**
 * Health, readiness, metrics, problem bodies, config and logger for one app. Imported once, by `runApp`.
 */
@Global()
@Module({})
export class PlatformModule {
  static forRoot(identity: AppIdentity, config: unknown, logger: Logger): DynamicModule {
    return {
      module: PlatformModule,
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: APP_LOGGER, useValue: logger },
        { provide: APP_IDENTITY, useValue: identity },
        { provide: APP_FILTER, useClass: ProblemFilter },
        ReadinessRegistry,
        Metrics,
        // Only with tracing on: an interceptor costs every handler call even when it does nothing.
        ...(tracingOn ? [{ provide: APP_INTERCEPTOR, useClass: NatsTracingInterceptor }] : []),
      ],
      exports: [APP_CONFIG, APP_LOGGER, APP_IDENTITY, ReadinessRegistry, Metrics],
    };
  }
}
