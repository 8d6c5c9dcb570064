import { deliveryDelays, EventQueue, unreliableNetwork, Xoshiro128 } from '@concord/raft';
import { describe, expect, it } from 'vitest';
import { sameValue, type Value } from '../ballot.js';
import { Acceptor, Learner, Proposer, type SingleMessage } from './single-decree.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (v: Value): string => (v === null ? 'no-op' : new TextDecoder().decode(v));

describe('single-decree Paxos', () => {
  it('one proposer gets its own value chosen in two rounds', () => {
    const acceptors = ['a', 'b', 'c'].map((id) => new Acceptor(id));
    const p = new Proposer('p', ['a', 'b', 'c'], bytes('v1'));
    const learner = new Learner(3);
    let accepts: SingleMessage[] = [];
    for (const m of p.prepare()) {
      const reply = acceptors.find((a) => a.id === m.to)!.onPrepare(m);
      if (reply.type === 'promise') accepts = accepts.concat(p.onPromise(reply));
    }
    expect(accepts).toHaveLength(3);
    let chosen: Value | undefined;
    for (const m of accepts) {
      if (m.type !== 'accept') continue;
      const reply = acceptors.find((a) => a.id === m.to)!.onAccept(m);
      if (reply.type !== 'accepted') continue;
      learner.onAccepted(reply);
      chosen ??= p.onAccepted(reply)?.chosen;
    }
    expect(text(chosen!)).toBe('v1');
    expect(text(learner.value()!.value)).toBe('v1');
  });

  it('an acceptor refuses a ballot below its promise, and a later proposer adopts the accepted value', () => {
    const a = new Acceptor('a');
    const b = new Acceptor('b');
    const p1 = new Proposer('p1', ['a', 'b', 'c'], bytes('first'));
    const p2 = new Proposer('p2', ['a', 'b', 'c'], bytes('second'));
    const [toA] = p1.prepare();
    const promise = a.onPrepare(toA!);
    expect(promise.type).toBe('promise');
    const promiseB = b.onPrepare({ from: 'p1', ballot: p1.current().ballot });
    const accepts = [...p1.onPromise(promise as never), ...p1.onPromise(promiseB as never)];
    a.onAccept(accepts.find((m) => m.to === 'a') as never); // only a accepts "first"
    // p2 outbids: b promises the higher ballot, so p1's accept to b is refused.
    p2.observeRound(1);
    const prep2 = p2.prepare();
    const pa = a.onPrepare(prep2[0]!);
    const pb = b.onPrepare(prep2[1]!);
    expect(b.onAccept(accepts.find((m) => m.to === 'b') as never).type).toBe('nack');
    const accepts2 = [...p2.onPromise(pa as never), ...p2.onPromise(pb as never)];
    // a had accepted "first": p2 must propose it, not its own value.
    expect(accepts2.map((m) => (m.type === 'accept' ? text(m.value) : '')).every((t) => t === 'first')).toBe(
      true,
    );
  });

  it('under loss, duplication, reordering and dueling proposers, at most one value is ever chosen (500 seeds)', () => {
    let decided = 0;
    for (let seed = 1; seed <= 500; seed++) {
      const r = new Xoshiro128(seed);
      const ids = ['a', 'b', 'c', 'd', 'e'].slice(0, 3 + r.int(3));
      const acceptors = new Map(ids.map((id) => [id, new Acceptor(id)]));
      const proposers = ['p1', 'p2', 'p3'].map((id) => new Proposer(id, ids, bytes(id)));
      const learner = new Learner(ids.length);
      const queue = new EventQueue();
      let now = 0;
      const chosenSeen: Value[] = [];
      const send = (m: SingleMessage): void => {
        for (const d of deliveryDelays(unreliableNetwork, r)) queue.push(now + d, () => deliver(m));
      };
      const deliver = (m: SingleMessage): void => {
        const acc = acceptors.get(m.to);
        if (acc && m.type === 'prepare') return send(acc.onPrepare(m));
        if (acc && m.type === 'accept') {
          const reply = acc.onAccept(m);
          send(reply);
          if (reply.type === 'accepted') {
            const l = learner.onAccepted(reply);
            if (l) chosenSeen.push(l.value);
            for (const p of proposers) if (p.id !== m.from) send({ ...reply, to: p.id });
          }
          return;
        }
        const p = proposers.find((x) => x.id === m.to);
        if (!p) return;
        if (m.type === 'promise') p.onPromise(m).forEach(send);
        else if (m.type === 'accepted') {
          const c = p.onAccepted(m);
          if (c) chosenSeen.push(c.chosen);
        } else if (m.type === 'nack' && p.onNack(m))
          queue.push(now + 1 + r.int(30), () => p.prepare().forEach(send));
      };
      for (const p of proposers) queue.push(r.int(20), () => p.prepare().forEach(send));
      while (queue.size() > 0 && now < 5000) {
        const ev = queue.pop()!;
        now = ev.at;
        ev.run();
      }
      if (chosenSeen.length > 0) decided++;
      for (const v of chosenSeen) expect(sameValue(v, chosenSeen[0]!)).toBe(true);
    }
    expect(decided).toBeGreaterThan(400);
  });
});
