import { describe, expect, it } from 'vitest';
import { formatRate, parsePrometheus, statusLine, sumOf, terminalLine } from './terminal.js';

const json = (fields: Record<string, unknown>) =>
  JSON.stringify({ time: '2026-12-07T02:00:00.000Z', ...fields });

describe('terminalLine', () => {
  it('leaves info and debug lines to the log file', () => {
    expect(terminalLine('orders-1', json({ level: 'info', msg: 'request' }))).toBeUndefined();
    expect(terminalLine('orders-1', json({ level: 'debug', msg: 'keepalive' }))).toBeUndefined();
    expect(terminalLine('orders-1', '')).toBeUndefined();
  });

  it('shows warnings and errors compactly, with what they are about', () => {
    expect(
      terminalLine(
        'coordinator-2',
        json({ level: 'warn', msg: 'connection_error', peer: 'n1', detail: 'ECONNRESET', context: 'Raft' }),
      ),
    ).toBe('coordinator-2   | WARN connection_error peer=n1 detail=ECONNRESET [Raft]');
    expect(
      terminalLine('orders-1', json({ level: 'error', msg: 'shutdown failed', err: { message: 'boom' } })),
    ).toBe('orders-1        | ERROR shutdown failed: boom');
  });

  it('shows what is not a JSON log line (a stack trace, a configuration error) as it is', () => {
    expect(terminalLine('orders-1', 'orders: invalid configuration: PORT: must be a port number')).toBe(
      'orders-1        | orders: invalid configuration: PORT: must be a port number',
    );
    expect(terminalLine('orders-1', '    at main (file.js:1:1)')).toBe(
      'orders-1        |     at main (file.js:1:1)',
    );
  });
});

describe('the status line', () => {
  it('reads Prometheus samples and sums a metric over chosen labels', () => {
    const samples = parsePrometheus(
      [
        '# HELP saga_instances x',
        'saga_instances{status="running"} 2',
        'saga_instances{status="completed"} 40',
        'saga_instances{status="compensating"} 1',
        'gateway_requests_total{route="/api/orders",status="200",instance="orders-1"} 7',
        'gateway_requests_total{route="/api/orders",status="503",instance="-"} 1',
      ].join('\n'),
    );
    expect(sumOf(samples, 'gateway_requests_total')).toBe(8);
    expect(sumOf(samples, 'saga_instances', (labels) => !labels.includes('"completed"'))).toBe(3);
  });

  it('renders equal statuses as equal lines, so that only a change prints', () => {
    const status = {
      raft: { leader: 'n1', term: 3 },
      requestsPerSecond: 0,
      sagasInFlight: 0,
      processesUp: 12,
      processes: 12,
    };
    expect(statusLine(status)).toBe(
      'status | raft: n1 leads term 3 · 0 req/s · 0 sagas in flight · 12/12 up',
    );
    expect(statusLine({ ...status, requestsPerSecond: 0.01 })).toBe(statusLine(status));
    expect(statusLine({ ...status, raft: { leader: null, term: 4 } })).toContain('raft: no leader (term 4)');
    expect(statusLine({ ...status, raft: undefined, sagasInFlight: undefined })).toContain(
      'raft: no answer · 0 req/s · -',
    );
  });

  it('rounds rates to two significant figures', () => {
    expect([0, 0.04, 3.45, 12.4, 1234, 98_765].map(formatRate)).toEqual([
      '0',
      '0',
      '3.5',
      '12',
      '1200',
      '99000',
    ]);
  });
});
