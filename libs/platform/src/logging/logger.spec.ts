import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, JsonNestLogger } from './logger.js';

/** A logger writing into an array, one raw JSON line each. */
function capture(level: string): { lines: string[]; nest: JsonNestLogger } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, nest: new JsonNestLogger(createLogger('coordinator', 'coordinator-1', level, sink)) };
}

const levelKeys = (line: string): number => line.match(/"level":/g)?.length ?? 0;

describe('JsonNestLogger', () => {
  it('logs a structured event at the level it names, with one level key', () => {
    const { lines, nest } = capture('debug');
    nest.log({ level: 'debug', event: 'peer_connected', peer: 'n2' }, 'Raft');
    nest.log({ level: 'warn', event: 'peer_lost', peer: 'n3' }, 'Raft');
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(levelKeys(line)).toBe(1);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ level: 'debug', msg: 'peer_connected', peer: 'n2' });
    expect(JSON.parse(lines[1] ?? '')).toMatchObject({ level: 'warn', msg: 'peer_lost', context: 'Raft' });
  });

  it('drops a debug event at level info, and logs plain messages and unknown levels at info', () => {
    const { lines, nest } = capture('info');
    nest.log({ level: 'debug', event: 'heartbeat' });
    nest.log({ level: 'loud', event: 'odd' });
    nest.log('leader is n1 in term 3', 'Raft');
    expect(lines.map((l) => JSON.parse(l) as { level: string; msg: string })).toEqual([
      expect.objectContaining({ level: 'info', msg: 'odd' }),
      expect.objectContaining({ level: 'info', msg: 'leader is n1 in term 3' }),
    ]);
    for (const line of lines) expect(levelKeys(line)).toBe(1);
  });
});
