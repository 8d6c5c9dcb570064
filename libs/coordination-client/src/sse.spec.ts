import { describe, expect, it } from 'vitest';
import { parseSse } from './sse.js';

async function* chunks(...parts: string[]) {
  for (const p of parts) yield new TextEncoder().encode(p);
}

describe('parseSse', () => {
  it('reassembles events split across chunks and skips comments', async () => {
    const out = [];
    for await (const m of parseSse(
      chunks(': hello\n\nid: 3\nevent: put\nda', 'ta: {"a":1}\n\n: heartbeat\n\nid: 4\ndata: x\n\n'),
    ))
      out.push(m);
    expect(out).toEqual([
      { id: '3', event: 'put', data: '{"a":1}' },
      { id: '4', data: 'x' },
    ]);
  });
});
