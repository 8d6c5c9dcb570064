import {
  Controller,
  Inject,
  Injectable,
  Module,
  type INestApplicationContext,
  type INestMicroservice,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  ClientsModule,
  MessagePattern,
  Payload,
  Transport,
  type ClientProxy,
  type MicroserviceOptions,
} from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startNats, type NatsHandle } from './nats.js';
import { isPortOpen } from './ports.js';
import { waitFor } from './wait.js';

interface EchoRequest {
  text: string;
}
interface EchoReply {
  text: string;
  instance: string;
}

const ECHO_CLIENT = Symbol('ECHO_CLIENT');
const INSTANCE_NAME = 'INSTANCE_NAME';

@Controller()
class EchoController {
  constructor(@Inject(INSTANCE_NAME) private readonly instance: string) {}

  @MessagePattern('echo')
  echo(@Payload() request: EchoRequest): EchoReply {
    return { text: request.text, instance: this.instance };
  }
}

async function startEchoService(natsUrl: string, instance: string): Promise<INestMicroservice> {
  @Module({ controllers: [EchoController], providers: [{ provide: INSTANCE_NAME, useValue: instance }] })
  class EchoModule {}
  const service = await NestFactory.createMicroservice<MicroserviceOptions>(EchoModule, {
    transport: Transport.NATS,
    // A queue group: each request goes to one member of the group, not to all of them.
    options: { servers: [natsUrl], queue: 'echo-workers' },
    logger: false,
  });
  await service.listen();
  return service;
}

@Injectable()
class EchoCaller {
  constructor(@Inject(ECHO_CLIENT) readonly client: ClientProxy) {}

  echo(text: string): Promise<EchoReply> {
    return firstValueFrom(this.client.send<EchoReply, EchoRequest>('echo', { text }).pipe(timeout(2_000)));
  }
}

async function startCaller(natsUrl: string): Promise<INestApplicationContext> {
  @Module({
    imports: [
      ClientsModule.register([
        { name: ECHO_CLIENT, transport: Transport.NATS, options: { servers: [natsUrl] } },
      ]),
    ],
    providers: [EchoCaller],
  })
  class CallerModule {}
  return NestFactory.createApplicationContext(CallerModule, { logger: false });
}

describe('private NATS with @nestjs/microservices', () => {
  let nats: NatsHandle;
  const services: INestMicroservice[] = [];
  let callerContext: INestApplicationContext;
  let caller: EchoCaller;

  beforeAll(async () => {
    nats = await startNats();
    services.push(await startEchoService(nats.url, 'a'), await startEchoService(nats.url, 'b'));
    callerContext = await startCaller(nats.url);
    caller = callerContext.get(EchoCaller);
    await caller.client.connect();
  });

  afterAll(async () => {
    await callerContext.close();
    for (const service of services) await service.close();
    await nats.stop();
  });

  it('answers request/reply through a ClientProxy, each request by one member of the queue group', async () => {
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => caller.echo(`hello ${i}`)));
    expect(replies.map((r) => r.text)).toEqual(Array.from({ length: 40 }, (_, i) => `hello ${i}`));
    const instances = new Set(replies.map((r) => r.instance));
    // Each reply comes from exactly one instance; with 40 requests both members get some (1 - 2^-39).
    expect(instances).toEqual(new Set(['a', 'b']));
  });

  it('serves again after the server restarts on the same port (clients reconnect)', async () => {
    const port = nats.port;
    const pidBefore = nats.process.pid;
    await nats.restart();
    expect(nats.process.pid).not.toBe(pidBefore);
    expect(await isPortOpen(port)).toBe(true);
    const reply = await waitFor(() => caller.echo('after restart'), {
      timeoutMs: 20_000,
      intervalMs: 200,
      description: 'an echo after the NATS restart',
    });
    expect(reply.text).toBe('after restart');
  });
});
