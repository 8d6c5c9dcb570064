import { Controller, Get, Module, Post, Body } from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { baseConfigShape, env } from './config/config.js';
import { type RunningApp, runApp } from './run-app.js';

let release: (() => void) | undefined;

@Controller('test')
class TestController {
  @Get('slow')
  async slow(): Promise<{ done: true }> {
    await new Promise<void>((resolve) => (release = resolve));
    return { done: true };
  }

  @Post('echo')
  echo(@Body() body: unknown): unknown {
    return body;
  }

  @Get('boom')
  boom(): never {
    throw new Error('secret internal detail');
  }
}

@Module({ controllers: [TestController] })
class TestModule {}

const schema = z.object({ ...baseConfigShape, PORT: env.port('port') });
let running: RunningApp | undefined;

async function start(): Promise<RunningApp> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  running = await runApp(
    {
      name: 'test',
      configSchema: schema,
      module: () => TestModule,
      bodyLimitBytes: 1024,
      handleSignals: false,
    },
    { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'silent' },
  );
  return running;
}

afterEach(async () => {
  release?.();
  await running?.close();
  running = undefined;
});

describe('runApp', () => {
  it('serves health, readiness and Prometheus metrics', async () => {
    const { url } = await start();
    expect(await (await fetch(`${url}/health`)).json()).toEqual({ status: 'alive' });
    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('# TYPE http_requests_total counter');
    expect(metrics).toMatch(/http_requests_total\{method="GET",route="\/health",status="200"\} 1/);
  });

  it('passes a valid X-Request-Id on and creates one when absent or malformed', async () => {
    const { url } = await start();
    const given = await fetch(`${url}/health`, { headers: { 'x-request-id': 'req-42' } });
    expect(given.headers.get('x-request-id')).toBe('req-42');
    const created = await fetch(`${url}/health`, { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(created.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers bad input with 4xx problem bodies, and hides internals on 500', async () => {
    const { url } = await start();
    const badJson = await fetch(`${url}/test/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":',
    });
    expect(badJson.status).toBe(400);
    expect(badJson.headers.get('content-type')).toContain('application/problem+json');
    expect(await badJson.json()).toMatchObject({ status: 400, title: 'Bad Request' });

    const tooLarge = await fetch(`${url}/test/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: 'x'.repeat(2048) }),
    });
    expect(tooLarge.status).toBe(413);

    const missing = await fetch(`${url}/nowhere`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ status: 404, requestId: expect.any(String) });

    const boom = await fetch(`${url}/test/boom`);
    expect(boom.status).toBe(500);
    expect(JSON.stringify(await boom.json())).not.toContain('secret internal detail');
  });

  it('drains on close: readiness turns to draining, the in-flight request completes, new ones are refused', async () => {
    const app = await start();
    const inFlight = fetch(`${app.url}/test/slow`);
    while (release === undefined) await delay(5);
    const closing = app.close();
    release();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ done: true });
    await closing;
    await expect(fetch(`${app.url}/health`)).rejects.toThrow();
    running = undefined;
  });
});
