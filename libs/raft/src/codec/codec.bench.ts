/**
 * Measures the binary message codec against JSON with base64 byte fields, encode + decode round trips.
 * Run: `npx tsx libs/raft/src/codec/codec.bench.ts`. The figures are quoted at the top of message-codec.ts.
 */
import { performance } from 'node:perf_hooks';
import type { Entry, Message } from '../types.js';
import { decodeMessageJson, encodeMessageJson } from './json-codec.js';
import { decodeMessage, encodeMessage } from './message-codec.js';

const RUN_MS = 700;

function entries(count: number, dataBytes: number): Entry[] {
  return Array.from({ length: count }, (_, i) => ({
    term: 7,
    index: 1_000_000 + i,
    type: 'normal' as const,
    data: new Uint8Array(dataBytes).map((_, j) => (i + j) & 0xff),
  }));
}

const append = (list: Entry[]): Message => ({
  type: 'append',
  from: 'node-1',
  to: 'node-2',
  term: 7,
  prevIndex: 999_999,
  prevTerm: 7,
  commit: 999_990,
  entries: list,
});

const cases: [string, Message][] = [
  ['heartbeat', { type: 'heartbeat', from: 'node-1', to: 'node-2', term: 7, commit: 999_990 }],
  [
    'appendResp',
    { type: 'appendResp', from: 'node-2', to: 'node-1', term: 7, reject: false, index: 1_000_063 },
  ],
  ['append, 1 entry of 64 B', append(entries(1, 64))],
  ['append, 1 entry of 1 KiB', append(entries(1, 1024))],
  ['append, 64 entries of 64 B', append(entries(64, 64))],
  ['append, 64 entries of 1 KiB', append(entries(64, 1024))],
];

function opsPerSecond(roundTrip: () => unknown): number {
  const warmUntil = performance.now() + RUN_MS / 4;
  while (performance.now() < warmUntil) roundTrip();
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < RUN_MS) {
    for (let i = 0; i < 64; i++) roundTrip();
    ops += 64;
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

const fmt = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M/s` : `${(n / 1e3).toFixed(1)} k/s`);

console.log(`node ${process.version}, encode + decode round trips for ${RUN_MS} ms each`);
console.log('message                        binary       JSON+base64  speed-up  bytes binary/JSON');
for (const [name, message] of cases) {
  const binary = opsPerSecond(() => decodeMessage(encodeMessage(message)));
  const json = opsPerSecond(() => decodeMessageJson(encodeMessageJson(message)));
  const sizes = `${encodeMessage(message).length} / ${encodeMessageJson(message).length}`;
  console.log(
    `${name.padEnd(30)} ${fmt(binary).padEnd(12)} ${fmt(json).padEnd(12)} ${(binary / json).toFixed(1).padStart(7)}x  ${sizes}`,
  );
}
