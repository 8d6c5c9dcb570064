import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FencedResource } from '../../scripts/demo/fenced-resource.js';
import { demoToken, signHs256 } from '../../scripts/demo/jwt.js';
import { Narrator } from '../../scripts/demo/narrator.js';
import {
  KEEPER_NAME,
  listeningInodes,
  parentPid,
  parseEnviron,
  watchedBy,
} from '../../scripts/demo/processes.js';
import { findScenario, SCENARIOS, usage } from '../../scripts/demo/scenarios.js';

describe('demo scenarios', () => {
  it('has the six scenarios of issue 8 and the singleton job and partition of issue 17', () => {
    expect(SCENARIOS.map((s) => s.name)).toEqual([
      'leader-failover',
      'lock-fencing',
      'instance-failure',
      'saga-compensation',
      'orchestrator-crash',
      '2pc-recovery',
      'singleton-job',
      'partition',
    ]);
  });

  it('finds a scenario by name, after npm\'s "--"', () => {
    expect(findScenario(['--', 'lock-fencing'])?.name).toBe('lock-fencing');
    expect(findScenario(['2pc-recovery'])?.name).toBe('2pc-recovery');
  });

  it('finds none for an unknown name, no name or two names (the caller prints the usage, exit 2)', () => {
    expect(findScenario(['leader'])).toBeUndefined();
    expect(findScenario([])).toBeUndefined();
    expect(findScenario(['lock-fencing', 'leader-failover'])).toBeUndefined();
    for (const s of SCENARIOS) expect(usage()).toContain(s.name);
  });
});

describe('Narrator', () => {
  const narrate = () => {
    let now = Date.UTC(2026, 0, 1, 12, 0, 0);
    const lines: string[] = [];
    const narrator = new Narrator(
      () => now,
      (line) => lines.push(line),
    );
    return { narrator, lines, advance: (ms: number) => (now += ms) };
  };

  it('timestamps each line with the clock and the time since the start', () => {
    const { narrator, lines, advance } = narrate();
    advance(1_500);
    narrator.say('leader killed');
    expect(lines).toEqual(['12:00:01.500    +1.5s  leader killed']);
  });

  it('passes only when every claim held', () => {
    const { narrator, lines } = narrate();
    narrator.check('a', true);
    expect(narrator.verdict('demo')).toBe(0);
    expect(lines.at(-1)).toBe('PASS demo: 1 claims held');
  });

  it('fails when a claim did not hold, naming it', () => {
    const { narrator, lines } = narrate();
    narrator.check('a', true);
    narrator.check('b', false, 'why');
    expect(narrator.verdict('demo')).toBe(1);
    expect(lines.slice(-2)).toEqual(['FAIL demo: 1 of 2 claims did not hold', '  - b: why']);
  });

  it('fails when no claim was checked at all', () => {
    const { narrator } = narrate();
    expect(narrator.verdict('demo')).toBe(1);
  });
});

describe('FencedResource', () => {
  it('refuses a token smaller than the largest seen, accepts equal and larger', () => {
    const resource = new FencedResource();
    expect(resource.write(11, 'A').accepted).toBe(true);
    expect(resource.write(12, 'B').accepted).toBe(true);
    expect(resource.write(11, 'stale A')).toEqual({ accepted: false, highestToken: 12 });
    expect(resource.write(12, 'B again').accepted).toBe(true);
    expect(resource.value).toBe('B again');
  });
});

describe('HS256 tokens for the gateway', () => {
  it('signs header.payload with HMAC-SHA256 of the secret', () => {
    const token = signHs256({ sub: 'demo' }, 'secret');
    const [head, body, signature] = token.split('.');
    expect(JSON.parse(Buffer.from(head ?? '', 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(JSON.parse(Buffer.from(body ?? '', 'base64url').toString())).toEqual({ sub: 'demo' });
    expect(signature).toBe(createHmac('sha256', 'secret').update(`${head}.${body}`).digest('base64url'));
  });

  it('gives the demo token a subject and an expiry', () => {
    const body = demoToken('demo', 's', 1_000_000, 60).split('.')[1] ?? '';
    expect(JSON.parse(Buffer.from(body, 'base64url').toString())).toEqual({
      sub: 'demo',
      iat: 1000,
      exp: 1060,
    });
  });
});

describe('/proc parsing', () => {
  const table = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:1B59 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0',
    '   1: 0100007F:1B59 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0',
    '   2: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0',
  ].join('\n');

  it('finds the listening socket of a port, not its connections', () => {
    expect(listeningInodes(table, 7001)).toEqual(['4242']);
    expect(listeningInodes(table, 8080)).toEqual(['4444']);
    expect(listeningInodes(table, 7002)).toEqual([]);
  });

  it('reads an environment, keeping "=" inside values', () => {
    expect(parseEnviron('A=1\0URL=postgres://u:p@h/db?x=y\0\0')).toEqual({
      A: '1',
      URL: 'postgres://u:p@h/db?x=y',
    });
  });

  it('reads the parent pid even when the command name holds spaces and parentheses', () => {
    expect(parentPid('123 (node (x) y) S 77 123 123 0 -1')).toBe(77);
  });

  it('sees through a keeper of an earlier restart to the stack it watches', () => {
    expect(watchedBy(['/bin/sh', '-c', 'script', KEEPER_NAME, '4100', 'log', 'node'])).toBe(4100);
    expect(watchedBy(['/usr/bin/node', 'scripts/stack.ts'])).toBeUndefined();
  });
});
