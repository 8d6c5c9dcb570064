import { Body, Controller, Get, Headers, Param, Post, Query, Res } from '@nestjs/common';
import { AdminOnly, ProblemException } from '@concord/platform';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { SagasService, type InstanceView } from './sagas.service.js';

const idempotencyKeyPattern = /^[\w.:-]{1,200}$/;
const idPattern = /^[0-9a-f-]{36}$/;

function requireKey(key: string | undefined): string {
  if (key === undefined || !idempotencyKeyPattern.test(key)) {
    throw new ProblemException(
      400,
      'an Idempotency-Key header (1-200 of letters, digits, "_.:-") is required',
    );
  }
  return key;
}

function requireId(id: string): string {
  if (!idPattern.test(id)) throw new ProblemException(404, `no saga or transaction ${id}`);
  return id;
}

function limitOf(raw: string | undefined): number {
  const limit = raw === undefined ? 100 : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500)
    throw new ProblemException(400, 'limit must be 1-500');
  return limit;
}

/**
 * Sagas: `POST /v1/sagas/{type}` (body: the input), `GET /v1/sagas/{id}`, `GET /v1/sagas?state=&type=`.
 * Operators only (`admin` internal token for "orchestrator"): instances hold every customer's inputs.
 */
@AdminOnly()
@ApiTags('sagas')
@Controller('v1/sagas')
export class SagasHttpController {
  constructor(private readonly sagas: SagasService) {}

  @Post(':type')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Start a saga of a registered type; the body is its input. 202 with Location.' })
  @ApiParam({ name: 'type', example: 'place-order' })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: true,
    description: 'Same key, same instance: 200 instead of 202.',
  })
  async start(
    @Param('type') type: string,
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<InstanceView> {
    const { created, instance } = await this.sagas.start(type, 'saga', body, requireKey(key));
    void reply.status(created ? 202 : 200).header('location', `/v1/sagas/${instance.id}`);
    return instance;
  }

  @Get(':id')
  @ApiOperation({ summary: 'One saga instance: status, steps, reason.' })
  async get(@Param('id') id: string): Promise<InstanceView> {
    return this.sagas.get(requireId(id));
  }

  @Get()
  @ApiOperation({ summary: 'Saga instances, newest first, filtered by state and type.' })
  @ApiQuery({ name: 'state', required: false })
  @ApiQuery({ name: 'type', required: false })
  @ApiQuery({ name: 'limit', required: false, description: '1-500, default 100' })
  async list(
    @Query('state') state?: string,
    @Query('type') type?: string,
    @Query('limit') limit?: string,
  ): Promise<{ items: InstanceView[] }> {
    return this.sagas.list('saga', state, type, limitOf(limit));
  }
}

/** Two-phase commit, same shape: `POST /v1/transactions` with body `{type, input}`. Operators only. */
@AdminOnly()
@ApiTags('transactions')
@Controller('v1/transactions')
export class TransactionsHttpController {
  constructor(private readonly sagas: SagasService) {}

  @Post()
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'Start a two-phase transaction: body {"type": "<workflow>", "input": {...}}. 202.',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: true,
    description: 'Same key, same instance: 200 instead of 202.',
  })
  async start(
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<InstanceView> {
    const request = body as { type?: unknown; input?: unknown } | null;
    if (typeof request !== 'object' || request === null || typeof request.type !== 'string') {
      throw new ProblemException(400, 'body must be {"type": "<workflow>", "input": {...}}');
    }
    const { created, instance } = await this.sagas.start(request.type, '2pc', request.input, requireKey(key));
    void reply.status(created ? 202 : 200).header('location', `/v1/transactions/${instance.id}`);
    return instance;
  }

  @Get(':id')
  @ApiOperation({ summary: 'One two-phase transaction: status, participants, decision.' })
  async get(@Param('id') id: string): Promise<InstanceView> {
    return this.sagas.get(requireId(id));
  }

  @Get()
  @ApiOperation({ summary: 'Two-phase transactions, newest first, filtered by state and type.' })
  @ApiQuery({ name: 'state', required: false })
  @ApiQuery({ name: 'type', required: false })
  @ApiQuery({ name: 'limit', required: false, description: '1-500, default 100' })
  async list(
    @Query('state') state?: string,
    @Query('type') type?: string,
    @Query('limit') limit?: string,
  ): Promise<{ items: InstanceView[] }> {
    return this.sagas.list('2pc', state, type, limitOf(limit));
  }
}
