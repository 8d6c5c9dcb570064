import { Coordinator, CoordinatorError, NotLeaderError, UnavailableError } from '@concord/coordination';
import { ProblemException, toProblem, ZodPipe } from '@concord/platform';
import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Access, authorize, type TokenDirectory } from './access.js';
import { accessOf } from './client-auth.guard.js';
import { CoordinatorErrorsFilter } from './coordinator-errors.filter.js';
import { deleteQuery, getQuery, KEY_BYTES_MAX, putBody, txnBody, VALUE_BYTES_MAX } from './schemas.js';
import { TOKEN_DIRECTORY } from './tokens.js';

/**
 * The hot routes, `PUT|GET|DELETE /v1/kv/*` and `POST /v1/txn`, answered from one Fastify preHandler hook instead
 * of Nest's guard, pipes, interceptors and filters (measured with --cpu-prof: Nest's per-request machinery and
 * zod cost more than the coordinator's own work for a put). Same contract as {@link KvHttpController}, which
 * stays registered (OpenAPI, tests without Fastify hooks) but is not reached on these routes:
 * - one token check (the guard's rules: 401, then 403 per access);
 * - the body checked by hand for the valid shape; anything else goes through the same zod schema as before, so
 *   every error body is the one the pipe gave;
 * - a fixed serializer for the put answer; errors through the same filters' logic (problem bodies, forwarding
 *   to the leader, 503 with X-Concord-Outcome).
 * Fastify's own hooks still run (request id, metrics, request log).
 */
const LEASE_ID = /^[0-9a-f]{16}$/;
const JSON_TYPE = 'application/json; charset=utf-8';
const putPipe = new ZodPipe(putBody);
const getPipe = new ZodPipe(getQuery);
const deletePipe = new ZodPipe(deleteQuery);
const txnPipe = new ZodPipe(txnBody);

interface PutBody {
  readonly value: string;
  readonly lease?: string;
  readonly prevRevision?: number;
}

/** Exactly what `putBody` accepts, or false (then zod says why). */
export function isPutBody(body: unknown): body is PutBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const b = body as Record<string, unknown>;
  for (const key in b) if (key !== 'value' && key !== 'lease' && key !== 'prevRevision') return false;
  if (typeof b.value !== 'string') return false;
  if (b.lease !== undefined && !(typeof b.lease === 'string' && LEASE_ID.test(b.lease))) return false;
  const prev = b.prevRevision;
  return prev === undefined || (typeof prev === 'number' && Number.isSafeInteger(prev) && prev >= 0);
}

function checkKey(key: string): string {
  if (key.length === 0) throw new ProblemException(400, 'key must not be empty');
  if (key.length > KEY_BYTES_MAX / 3 && Buffer.byteLength(key) > KEY_BYTES_MAX)
    throw new ProblemException(413, `key is longer than ${KEY_BYTES_MAX} bytes`);
  return key;
}

/** A string's UTF-8 length exceeds `max` (counted only when it could: a char is at most 3 bytes). */
const tooLong = (s: string, max: number): boolean => s.length > max / 3 && Buffer.byteLength(s) > max;

export function installLeanKvRoutes(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  const coordinator = app.get(Coordinator);
  const tokens = app.get<TokenDirectory>(TOKEN_DIRECTORY);
  const errors = app.get(CoordinatorErrorsFilter);
  const logger = new Logger('KvRoute');

  const fail = (request: FastifyRequest, reply: FastifyReply, error: unknown): void => {
    if (reply.sent) return;
    const outcome =
      error instanceof CoordinatorError ||
      error instanceof NotLeaderError ||
      error instanceof UnavailableError;
    if (!outcome) {
      const body = toProblem(error);
      body.requestId = request.id;
      if (body.status >= 500) {
        logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
      }
      void reply.status(body.status).type('application/problem+json').send(body);
      return;
    }
    const host = { switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }) };
    errors.catch(error, host as never).catch((e: unknown) => fail(request, reply, e));
  };

  const authorized = (request: FastifyRequest, accesses: readonly Access[]): void => {
    const header = request.headers.authorization;
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) {
      throw new ProblemException(401, 'missing bearer token (Authorization: Bearer <token>)');
    }
    const principal = tokens.resolve(header);
    if (principal === undefined) throw new ProblemException(401, 'invalid bearer token');
    for (const access of accesses) {
      const refusal = authorize(principal, access);
      if (refusal !== null) throw new ProblemException(403, refusal);
    }
    request.coordinatorPrincipal = principal;
  };

  const handle = async (request: FastifyRequest, reply: FastifyReply, route: string): Promise<void> => {
    const method = request.method;
    if (route === '/v1/txn') {
      authorized(request, accessOf(method, route, {}, {}, request.body));
      const body = txnPipe.transform(request.body);
      for (const op of [...body.success, ...body.failure]) {
        const key = 'put' in op ? op.put.key : 'get' in op ? op.get.key : op.delete.key;
        checkKey(key);
        if ('put' in op && tooLong(op.put.value, VALUE_BYTES_MAX)) {
          throw new ProblemException(413, `value of ${key} is larger than ${VALUE_BYTES_MAX} bytes`);
        }
      }
      const result = await coordinator.txn(body.compare, body.success, body.failure);
      void reply.status(200).type(JSON_TYPE).send(JSON.stringify(result));
      return;
    }
    const key = (request.params as Record<string, string | undefined>)['*'] ?? '';
    const query = request.query as Record<string, unknown>;
    if (method === 'PUT') {
      authorized(request, [{ kind: 'write', keys: [key] }]);
      const body = isPutBody(request.body) ? request.body : putPipe.transform(request.body);
      checkKey(key);
      if (tooLong(body.value, VALUE_BYTES_MAX)) {
        throw new ProblemException(413, `value is larger than ${VALUE_BYTES_MAX} bytes`);
      }
      const { revision } = await coordinator.put(key, body.value, body.lease, body.prevRevision);
      void reply
        .status(200)
        .type(JSON_TYPE)
        .send('{"revision":' + revision + '}');
      return;
    }
    if (method === 'GET') {
      authorized(request, [{ kind: 'read', key, prefix: false }]);
      const consistency = query.consistency;
      const linearizable =
        consistency === undefined || consistency === 'linearizable'
          ? true
          : consistency === 'serializable'
            ? false
            : getPipe.transform(query).consistency === 'linearizable';
      const kv = await coordinator.get(checkKey(key), linearizable);
      if (kv === undefined) throw new CoordinatorError(404, `key ${key} not found`);
      void reply.status(200).type(JSON_TYPE).send(JSON.stringify(kv));
      return;
    }
    // DELETE
    authorized(request, [{ kind: 'write', keys: [key] }]);
    const prevRevision =
      query.prevRevision === undefined ? undefined : deletePipe.transform(query).prevRevision;
    const result = await coordinator.delete(checkKey(key), prevRevision);
    void reply.status(200).type(JSON_TYPE).send(JSON.stringify(result));
  };

  fastify.addHook('preHandler', (request, reply, done) => {
    const route = request.routeOptions.url;
    const method = request.method;
    const lean =
      (route === '/v1/kv/*' && (method === 'PUT' || method === 'GET' || method === 'DELETE')) ||
      (route === '/v1/txn' && method === 'POST');
    if (!lean) {
      done();
      return;
    }
    // Answered here: not calling done() ends the hook chain, and Nest's handler is never reached.
    handle(request, reply, route).catch((error: unknown) => fail(request, reply, error));
  });
}
