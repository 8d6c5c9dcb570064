import { headers, type NatsConnection } from '@nats-io/transport-node';
import { ReplyMux } from '../transport/reply-mux.js';
import type { SagaLog } from './saga-log.js';

export const SAGA_EVENTS_STREAM = 'SAGA_EVENTS';
export const SAGA_EVENTS_SUBJECTS = 'saga.events.>';
/** JetStream drops a message whose Nats-Msg-Id it saw within this window. */
const duplicateWindowNs = 2 * 60 * 1_000_000_000;
const publishTimeoutMs = 2_000;

interface JsApiError {
  error?: { code: number; err_code?: number; description: string };
}

/**
 * Creates the lifecycle stream if missing, through the JetStream API subjects of core NATS (no extra client
 * library). Creating an identical stream again is accepted by the server.
 */
export async function ensureEventStream(nc: NatsConnection, replicas = 1): Promise<void> {
  const config = {
    name: SAGA_EVENTS_STREAM,
    // 3 on a 3-node cluster: the stream survives the loss of any one server without losing an acknowledged event.
    num_replicas: replicas,
    subjects: [SAGA_EVENTS_SUBJECTS],
    storage: 'file',
    retention: 'limits',
    duplicate_window: duplicateWindowNs,
    max_age: 7 * 24 * 3600 * 1_000_000_000,
  };
  const reply = await nc.request(`$JS.API.STREAM.CREATE.${SAGA_EVENTS_STREAM}`, JSON.stringify(config), {
    timeout: publishTimeoutMs,
  });
  const answer = reply.json<JsApiError>();
  // 10058: a stream of that name exists (with another config, e.g. an older version): keep it.
  if (answer.error !== undefined && answer.error.err_code !== 10058) {
    throw new Error(`creating stream ${SAGA_EVENTS_STREAM}: ${answer.error.description}`);
  }
}

/** Publishes one event and waits for JetStream's acknowledgement; a duplicate id is acknowledged too. */
export async function publishEvent(
  nc: NatsConnection,
  event: { eventId: string; subject: string; payload: unknown },
  mux = new ReplyMux(),
): Promise<{ duplicate: boolean }> {
  const h = headers();
  h.set('Nats-Msg-Id', event.eventId);
  const reply = await mux.request(nc, event.subject, JSON.stringify(event.payload), publishTimeoutMs, h);
  const ack = reply.json<JsApiError & { seq?: number; duplicate?: boolean }>();
  if (ack.error !== undefined) throw new Error(`publish ${event.eventId}: ${ack.error.description}`);
  return { duplicate: ack.duplicate === true };
}

/**
 * One relay pass, pipelined: every unpublished row of the batch is published at once, in outbox sequence on one
 * connection (so JetStream stores them in that sequence), and the acknowledgements are awaited together; then the
 * acknowledged prefix is marked. A row after a failed one is published again on the next pass and dropped by the
 * stream as a duplicate (its Nats-Msg-Id), so the stream holds each event once; after such a failure an event can
 * land after later ones, which is why every event carries its instance's version. A crash between publish and
 * mark re-publishes likewise: at-least-once in, exactly-once in the stream (within the duplicate window).
 */
export async function relayOutbox(
  log: SagaLog,
  nc: NatsConnection,
  batchMax = 100,
  mux = new ReplyMux(),
): Promise<number> {
  const rows = await log.unpublished(batchMax);
  const acks = await Promise.allSettled(rows.map((row) => publishEvent(nc, row, mux)));
  const published: string[] = [];
  for (const [i, ack] of acks.entries()) {
    const row = rows[i];
    if (ack.status === 'rejected' || row === undefined) break;
    published.push(row.id);
  }
  await log.markPublished(published);
  const failed = acks.find((a) => a.status === 'rejected');
  if (failed?.status === 'rejected') {
    throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
  }
  return published.length;
}
