import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Post,
  Put,
  Query,
  Req,
  Res,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import { Coordinator, CoordinatorError, type WatchEvent } from '@concord/coordination';
import { ProblemException, ZodPipe } from '@concord/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { ClientAuthGuard } from './client-auth.guard.js';
import { CoordinatorErrorsFilter } from './coordinator-errors.filter.js';
import { WatchStreams } from './watch-streams.js';
import {
  deleteQuery,
  getQuery,
  KEY_BYTES_MAX,
  putBody,
  rangeQuery,
  txnBody,
  VALUE_BYTES_MAX,
  watchQuery,
} from './schemas.js';

const HEARTBEAT_MS = 15_000;

function checkKey(key: string): string {
  if (key.length === 0) throw new ProblemException(400, 'key must not be empty');
  if (Buffer.byteLength(key) > KEY_BYTES_MAX)
    throw new ProblemException(413, `key is longer than ${KEY_BYTES_MAX} bytes`);
  return key;
}

@Controller('v1')
@UseGuards(ClientAuthGuard)
@UseFilters(CoordinatorErrorsFilter)
export class KvHttpController {
  constructor(
    private readonly coordinator: Coordinator,
    private readonly streams: WatchStreams,
  ) {}

  @Put('kv/*')
  async put(@Param('*') key: string, @Body(new ZodPipe(putBody)) body: z.infer<typeof putBody>) {
    checkKey(key);
    if (Buffer.byteLength(body.value) > VALUE_BYTES_MAX) {
      throw new ProblemException(413, `value is larger than ${VALUE_BYTES_MAX} bytes`);
    }
    return this.coordinator.put(key, body.value, body.lease, body.prevRevision);
  }

  @Get('kv/*')
  async get(@Param('*') key: string, @Query(new ZodPipe(getQuery)) query: z.infer<typeof getQuery>) {
    const kv = await this.coordinator.get(checkKey(key), query.consistency === 'linearizable');
    if (kv === undefined) throw new CoordinatorError(404, `key ${key} not found`);
    return kv;
  }

  @Delete('kv/*')
  async delete(@Param('*') key: string, @Query(new ZodPipe(deleteQuery)) query: z.infer<typeof deleteQuery>) {
    return this.coordinator.delete(checkKey(key), query.prevRevision);
  }

  @Get('kv')
  async range(@Query(new ZodPipe(rangeQuery)) query: z.infer<typeof rangeQuery>) {
    const { items, more, revision } = await this.coordinator.range(
      query.prefix,
      query.limit,
      query.revision,
      query.consistency === 'linearizable',
    );
    return { revision, items, more };
  }

  @Post('txn')
  @HttpCode(200)
  async txn(@Body(new ZodPipe(txnBody)) body: z.infer<typeof txnBody>) {
    for (const op of [...body.success, ...body.failure]) {
      const key = 'put' in op ? op.put.key : 'get' in op ? op.get.key : op.delete.key;
      checkKey(key);
      if ('put' in op && Buffer.byteLength(op.put.value) > VALUE_BYTES_MAX) {
        throw new ProblemException(413, `value of ${key} is larger than ${VALUE_BYTES_MAX} bytes`);
      }
    }
    return this.coordinator.txn(body.compare, body.success, body.failure);
  }

  /**
   * Server-Sent Events, one per change: `id: <revision>`, `event: put|delete`, `data: {type, kv, revision}`.
   * Resumable with `fromRevision` or the standard `Last-Event-ID` header (the next revision is replayed).
   */
  @Get('watch')
  watch(
    @Query(new ZodPipe(watchQuery)) query: z.infer<typeof watchQuery>,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): void {
    const resumeFrom =
      lastEventId !== undefined && /^\d+$/.test(lastEventId) ? Number(lastEventId) + 1 : undefined;
    const from = query.fromRevision ?? resumeFrom;
    const filter = query.key !== undefined ? { key: query.key } : { prefix: query.prefix ?? '' };
    const token = request.coordinatorPrincipal?.name ?? 'unknown';
    if (!this.streams.tryReserve(token)) {
      throw new ProblemException(429, `this token already holds the maximum number of watches on this node`);
    }
    let stream: ((event: WatchEvent) => void) | undefined = undefined;
    const buffered: WatchEvent[] = [];
    let unsubscribe: () => void;
    try {
      // Subscribes (and replays) before the response starts, so a compacted revision can still answer 410.
      unsubscribe = this.coordinator.watch(filter, from, (event) =>
        stream ? stream(event) : buffered.push(event),
      );
    } catch (error) {
      this.streams.release(token);
      throw error;
    }
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-request-id': request.id,
      'x-accel-buffering': 'no',
    });
    let last = (from ?? this.coordinator.state.currentRevision() + 1) - 1;
    raw.write(`: watching from revision ${last + 1}\n\n`);
    stream = (event) => {
      const sent = this.streams.write(
        raw,
        `id: ${event.revision}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`,
        () => last + 1,
      );
      if (sent) last = event.revision;
      else unsubscribe();
    };
    for (const event of buffered) stream(event);
    const heartbeat = setInterval(
      () => this.streams.write(raw, ': heartbeat\n\n', () => last + 1),
      HEARTBEAT_MS,
    );
    this.streams.add(raw, token, () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
  }
}
