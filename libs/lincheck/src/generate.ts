import type { HistoryOperation } from './history.js';

/**
 * Synthetic histories for testing the checker at scale: concurrent clients against one correct,
 * linearizable key/value store (every operation takes effect at one random instant inside its
 * interval), optionally with a planted violation. Deterministic from the seed.
 *
 * Two shapes:
 * - `append`: Jepsen's kv workload (the shared `kv` fixtures): get / put / append on a few keys, every
 *   key starting as `''`, some clients much slower than others (long intervals that overlap hundreds of
 *   operations), as in histories recorded against a store under partition.
 * - `cas`: the coordinator's workload (test/coordinator): get / put / compare-and-set, keys starting
 *   absent, with a fraction of writes of unknown outcome (a time-out or a crash: they take effect later,
 *   or never).
 */
export interface GenerateOptions {
  seed: number;
  workload: 'append' | 'cas';
  clients: number;
  /** Operations in total (calls). */
  operations: number;
  keys: number;
  /** Fraction of writes whose outcome is unknown (`cas` workload). */
  unknownFraction?: number;
  /** Plant a stale read near the end: the history is then certainly not linearizable. */
  violation?: boolean;
}

export interface GeneratedHistory {
  operations: HistoryOperation[];
  /** The initial value of every key: `''` for `append`, `null` (absent) for `cas`. */
  initialValue: string | null;
  /** The planted stale read, if any. */
  violation?: HistoryOperation;
}

interface Pending {
  op: HistoryOperation;
  /** When it takes effect; null: never. */
  at: number | null;
}

export function generateHistory(options: GenerateOptions): GeneratedHistory {
  const random = mulberry32(options.seed);
  const append = options.workload === 'append';
  const initialValue = append ? '' : null;
  const keys = Array.from({ length: options.keys }, (_, i) => String(i));
  const unknownFraction = options.unknownFraction ?? 0;
  const operations: Pending[] = [];
  const counters = new Map<number, number>();
  // Times in microseconds of a made-up clock. A fifth of the clients (at least one) are slow: their
  // operations last ~100 times longer than the others'.
  const latencyOf = (client: number): number => {
    const slow = client % 5 === 0;
    const base = slow ? 20_000 : 200;
    return Math.ceil(-Math.log(1 - random()) * base) + 1;
  };
  const clock = new Float64Array(options.clients);
  for (let i = 0; i < options.operations; i++) {
    // The client that is free first issues the next call.
    let client = 0;
    for (let c = 1; c < options.clients; c++) if ((clock[c] ?? 0) < (clock[client] ?? 0)) client = c;
    const call = (clock[client] ?? 0) + Math.floor(random() * 20);
    const latency = latencyOf(client);
    const key = keys[Math.floor(random() * keys.length)] ?? '0';
    const n = counters.get(client) ?? 0;
    counters.set(client, n + 1);
    const value = `x ${client} ${n} y`;
    const roll = random();
    const base = { client, key, call, return: call + latency, ok: true };
    let op: HistoryOperation;
    if (roll < 0.45) op = { ...base, op: 'get', result: null };
    else if (append) op = roll < 0.9 ? { ...base, op: 'append', value } : { ...base, op: 'put', value };
    else if (roll < 0.75) op = { ...base, op: 'put', value };
    else op = { ...base, op: 'cas', value, expect: null };
    let at: number | null = call + Math.floor(random() * latency);
    if (op.op !== 'get' && random() < unknownFraction) {
      // Timed out: the client gives up after its latency; the write lands later, or never.
      op.return = null;
      op.ok = false;
      at = random() < 0.5 ? null : call + Math.floor(random() * latency * 20);
    }
    clock[client] = call + latency;
    operations.push({ op, at });
  }

  // Run the store: calls (to choose each cas's expected value from what was there at its call) and
  // effects, in time order; calls first at equal times.
  type Event = { time: number; kind: 0 | 1; pending: Pending };
  const events: Event[] = [];
  for (const pending of operations) {
    events.push({ time: pending.op.call, kind: 0, pending });
    if (pending.at !== null) events.push({ time: pending.at, kind: 1, pending });
  }
  events.sort((a, b) => a.time - b.time || a.kind - b.kind);
  const state = new Map<string, string | null>();
  const valueOf = (key: string): string | null => (state.has(key) ? (state.get(key) ?? null) : initialValue);
  for (const { kind, pending } of events) {
    const op = pending.op;
    if (kind === 0) {
      if (op.op === 'cas') op.expect = random() < 0.2 ? null : valueOf(op.key);
      continue;
    }
    const current = valueOf(op.key);
    switch (op.op) {
      case 'get':
        op.result = current;
        break;
      case 'put':
        state.set(op.key, op.value ?? null);
        break;
      case 'append':
        state.set(op.key, (current ?? '') + (op.value ?? ''));
        break;
      case 'cas': {
        const swapped = current === (op.expect ?? null);
        if (swapped) state.set(op.key, op.value ?? null);
        if (op.return !== null) op.ok = swapped;
        break;
      }
      case 'delete':
        state.delete(op.key);
        break;
    }
  }

  const history = operations.map((p) => p.op);
  const result: GeneratedHistory = { operations: history, initialValue };
  if (options.violation === true) {
    const planted = plantStaleRead(history, initialValue);
    if (planted !== undefined) result.violation = planted;
  }
  return result;
}

/**
 * Makes one of the last completed reads return the key's initial value although a write to that key
 * completed before the read was called: no write restores the initial value (values are never empty,
 * nothing deletes), so no order explains it.
 */
function plantStaleRead(
  history: HistoryOperation[],
  initialValue: string | null,
): HistoryOperation | undefined {
  const firstWriteReturn = new Map<string, number>();
  for (const op of history) {
    if (op.op === 'get' || op.return === null || !op.ok) continue;
    const seen = firstWriteReturn.get(op.key);
    if (seen === undefined || op.return < seen) firstWriteReturn.set(op.key, op.return);
  }
  for (let i = history.length - 1; i >= 0; i--) {
    const op = history[i] as HistoryOperation;
    const written = firstWriteReturn.get(op.key);
    if (op.op !== 'get' || op.return === null || written === undefined || written >= op.call) continue;
    if (op.result === initialValue) continue;
    op.result = initialValue;
    return op;
  }
  return undefined;
}

/**
 * Jepsen's kv log (the format of the shared `kv` fixtures): one EDN map per event, in time order.
 * An operation of unknown outcome ends with `:info` and its process is retired; the client goes on as
 * a new process (Jepsen's convention), numbered past every client.
 */
export function toJepsenKv(operations: readonly HistoryOperation[], clients: number): string {
  // At equal times: completions, then invocations, then an invocation's own :info.
  type Line = { time: number; order: number; text: string };
  const lines: Line[] = [];
  const process = new Map<number, number>();
  const edn = (value: string | null | undefined): string =>
    value === null || value === undefined ? 'nil' : JSON.stringify(value);
  let retired = 0;
  const byCall = [...operations].sort((a, b) => a.call - b.call);
  for (const op of byCall) {
    if (op.op === 'cas' || op.op === 'delete') throw new Error(`Jepsen kv has no ${op.op}`);
    const p = process.get(op.client) ?? op.client;
    const f = `:f :${op.op}, :key ${edn(op.key)}`;
    const invokeValue = op.op === 'get' ? 'nil' : edn(op.value);
    lines.push({
      time: op.call,
      order: 1,
      text: `{:process ${p}, :type :invoke, ${f}, :value ${invokeValue}}`,
    });
    if (op.return === null) {
      // The client gives up at once; a later line closes it as :info.
      lines.push({
        time: op.call,
        order: 2,
        text: `{:process ${p}, :type :info, ${f}, :value ${invokeValue}}`,
      });
      process.set(op.client, clients + retired++);
      continue;
    }
    const outcome = op.ok ? ':ok' : ':fail';
    const value = op.op === 'get' ? edn(op.result) : edn(op.value);
    lines.push({
      time: op.return,
      order: 0,
      text: `{:process ${p}, :type ${outcome}, ${f}, :value ${value}}`,
    });
  }
  lines.sort((a, b) => a.time - b.time || a.order - b.order);
  return lines.map((l) => l.text).join('\n') + '\n';
}

/** One operation per line, the `jsonl` format of `npm run lincheck`. */
export function toJsonl(operations: readonly HistoryOperation[]): string {
  return operations.map((op) => JSON.stringify(op)).join('\n') + '\n';
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
