import { connect, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ByteWriter } from '../codec/bytes.js';
import { writeMessage } from '../codec/message-codec.js';
import type { Message } from '../types.js';
import { FrameKind, writeFrame } from './frames.js';
import { computeProof, HANDSHAKE_VERSION, NONCE_BYTES, newNonce } from './handshake.js';
import { TcpTransport, type TcpTransportOptions, type TransportLogEvent } from './tcp-transport.js';

const SECRET = 'concord test cluster secret 0123456789';

/** Polls with a deadline instead of sleeping for a fixed time. */
async function until(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

interface Node {
  transport: TcpTransport;
  received: Message[];
  logs: TransportLogEvent[];
}

const started: TcpTransport[] = [];
const sockets: Socket[] = [];

async function startNode(id: string, options: Partial<TcpTransportOptions> = {}): Promise<Node> {
  const received: Message[] = [];
  const logs: TransportLogEvent[] = [];
  const transport = await TcpTransport.start({
    nodeId: id,
    listen: { host: '127.0.0.1', port: 0 },
    clusterSecret: SECRET,
    reconnectDelayMsMin: 10,
    reconnectDelayMsMax: 100,
    log: (event) => logs.push(event),
    ...options,
  });
  transport.onMessage((message) => received.push(message));
  started.push(transport);
  return { transport, received, logs };
}

/** Two nodes, a → b connected: one heartbeat (commit `commit`) has gone through. */
async function connectedPair(commit = 1): Promise<{ a: Node; b: Node }> {
  const a = await startNode('a');
  const b = await startNode('b');
  a.transport.setPeer('b', b.transport.address);
  a.transport.send(heartbeat('a', 'b', commit));
  await until(() => b.received.length === 1, 'the first delivery');
  return { a, b };
}

const heartbeat = (from: string, to: string, commit: number): Message => ({
  type: 'heartbeat',
  from,
  to,
  term: 1,
  commit,
});

/** A raw client for misbehaving on purpose. */
async function rawSocket(
  address: string,
): Promise<{ socket: Socket; closed: Promise<void>; data: Buffer[] }> {
  const [host, port] = address.split(':');
  const socket = connect({ host: host!, port: Number(port) });
  sockets.push(socket);
  const data: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => data.push(chunk));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, closed, data };
}

function frame(kind: number, body: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter(64);
  writeFrame(w, kind, body);
  return w.toBytes();
}

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const transport of started.splice(0)) await transport.close();
});

describe('TcpTransport', () => {
  it('delivers messages both ways, in order', async () => {
    const a = await startNode('a');
    const b = await startNode('b');
    a.transport.setPeer('b', b.transport.address);
    b.transport.setPeer('a', a.transport.address);
    for (let i = 1; i <= 1000; i++) a.transport.send(heartbeat('a', 'b', i));
    b.transport.send({
      type: 'append',
      from: 'b',
      to: 'a',
      term: 2,
      prevIndex: 0,
      prevTerm: 0,
      commit: 0,
      entries: [{ term: 2, index: 1, type: 'normal', data: new Uint8Array([1, 2, 3]) }],
    });
    await until(() => b.received.length === 1000 && a.received.length === 1, 'delivery');
    expect(b.received.map((m) => (m.type === 'heartbeat' ? m.commit : -1))).toEqual(
      Array.from({ length: 1000 }, (_, i) => i + 1),
    );
    expect(a.received[0]).toMatchObject({
      type: 'append',
      from: 'b',
      entries: [{ data: new Uint8Array([1, 2, 3]) }],
    });
    expect(a.transport.stats().peers.b).toMatchObject({ connected: true, sent: 1000, dropped: 0 });
  });

  it('flush() writes at once what the turn sent; without it the write waits for the end of the turn', async () => {
    const { a, b } = await connectedPair(0);
    // Seen from a callback queued before the send: it runs in the same check phase as the transport's own
    // end-of-turn flush, but first; only a write made during the turn can have been read by b before it.
    const seenAtEndOfTurn = async (flush: boolean, commit: number): Promise<boolean> => {
      const seen = new Promise<boolean>((resolve) =>
        setImmediate(() => resolve(b.received.some((m) => m.type === 'heartbeat' && m.commit === commit))),
      );
      a.transport.send(heartbeat('a', 'b', commit));
      if (flush) a.transport.flush();
      return seen;
    };
    expect(await seenAtEndOfTurn(false, 1)).toBe(false);
    await until(() => b.received.length === 2, 'the unflushed one, later');
    expect(await seenAtEndOfTurn(true, 2)).toBe(true);
    expect(a.transport.stats().peers.b).toMatchObject({ sent: 3, dropped: 0 });
  });

  it('refuses a peer with the wrong secret, in both directions, and logs it', async () => {
    const a = await startNode('a');
    const c = await startNode('c', { clusterSecret: 'not the cluster secret at all!!' });
    a.transport.setPeer('c', c.transport.address);
    c.transport.setPeer('a', a.transport.address);
    a.transport.send(heartbeat('a', 'c', 1));
    c.transport.send(heartbeat('c', 'a', 1));
    // Each side, as client, finds that the other's server proof does not match its secret.
    await until(
      () => a.logs.some((e) => e.event === 'auth_failed') && c.logs.some((e) => e.event === 'auth_failed'),
      'auth failures on both sides',
    );
    expect(a.received).toEqual([]);
    expect(c.received).toEqual([]);
    expect(a.transport.stats().peers.c?.connected).toBe(false);
  });

  it('closes a client whose proof is wrong, as the server', async () => {
    const a = await startNode('a');
    const raw = await rawSocket(a.transport.address);
    raw.socket.write(
      frame(FrameKind.hello, (w) => {
        w.u8(HANDSHAKE_VERSION);
        w.string('mallory');
        w.string('a');
        w.raw(newNonce());
      }),
    );
    await until(() => raw.data.length > 0, 'the challenge');
    raw.socket.write(frame(FrameKind.proof, (w) => w.raw(new Uint8Array(32))));
    raw.socket.write(frame(FrameKind.message, (w) => w.raw(new Uint8Array(8))));
    await raw.closed;
    expect(a.logs).toContainEqual(expect.objectContaining({ event: 'auth_failed', level: 'warn' }));
    expect(a.received).toEqual([]);
  });

  it("accepts a correct hand-made handshake, then closes on a message sent in another node's name", async () => {
    const a = await startNode('a');
    const raw = await rawSocket(a.transport.address);
    const clientNonce = newNonce();
    raw.socket.write(
      frame(FrameKind.hello, (w) => {
        w.u8(HANDSHAKE_VERSION);
        w.string('b');
        w.string('a');
        w.raw(clientNonce);
      }),
    );
    await until(() => raw.data.length > 0, 'the challenge');
    const challenge = Buffer.concat(raw.data);
    const serverNonce = challenge.subarray(4 + 1 + 2 + 1, 4 + 1 + 2 + 1 + NONCE_BYTES); // header, kind, "a"
    const transcript = { clientId: 'b', serverId: 'a', clientNonce, serverNonce };
    raw.socket.write(
      frame(FrameKind.proof, (w) => w.raw(computeProof(Buffer.from(SECRET), 'client', transcript))),
    );
    raw.socket.write(frame(FrameKind.message, (w) => writeMessage(w, heartbeat('b', 'a', 1))));
    await until(() => a.received.length === 1, 'the authenticated message');
    raw.socket.write(frame(FrameKind.message, (w) => writeMessage(w, heartbeat('c', 'a', 2))));
    await raw.closed;
    expect(a.received).toHaveLength(1);
    expect(a.logs).toContainEqual(expect.objectContaining({ event: 'protocol_error', peer: 'b' }));
  });

  it('closes a connection that sends a message before authenticating', async () => {
    const a = await startNode('a');
    const raw = await rawSocket(a.transport.address);
    raw.socket.write(frame(FrameKind.message, (w) => w.raw(new Uint8Array(NONCE_BYTES))));
    await raw.closed;
    expect(a.logs).toContainEqual(expect.objectContaining({ event: 'protocol_error' }));
  });

  it('closes a connection that announces an oversized frame, before and after authentication', async () => {
    const a = await startNode('a');
    const raw = await rawSocket(a.transport.address);
    const header = Buffer.alloc(4);
    header.writeUInt32LE(64 * 1024 * 1024);
    raw.socket.write(header);
    await raw.closed;
    expect(a.logs).toContainEqual(expect.objectContaining({ event: 'frame_too_large' }));

    const b = await startNode('b', { frameBytesMax: 1024 });
    a.transport.setPeer('b', b.transport.address);
    a.transport.send({
      type: 'append',
      from: 'a',
      to: 'b',
      term: 1,
      prevIndex: 0,
      prevTerm: 0,
      commit: 0,
      entries: [{ term: 1, index: 1, type: 'normal', data: new Uint8Array(4096) }],
    });
    await until(() => b.logs.some((e) => e.event === 'frame_too_large' && e.peer === 'a'), 'oversized frame');
    expect(b.received).toEqual([]);
    // The link comes back, and small messages flow again.
    await until(() => {
      a.transport.send(heartbeat('a', 'b', 7));
      return b.received.length > 0;
    }, 'a small message after reconnecting');
  });

  it('closes a connection that never completes the handshake', async () => {
    const a = await startNode('a', { handshakeTimeoutMs: 100 });
    const raw = await rawSocket(a.transport.address);
    await raw.closed;
    expect(a.logs).toContainEqual(expect.objectContaining({ event: 'handshake_timeout' }));
  });

  it('reconnects after the peer restarts on the same address', async () => {
    const a = await startNode('a');
    const b = await startNode('b');
    const address = b.transport.address;
    const port = Number(address.split(':')[1]);
    a.transport.setPeer('b', address);
    a.transport.send(heartbeat('a', 'b', 1));
    await until(() => b.received.length === 1, 'first delivery');

    await b.transport.close();
    await until(() => a.transport.stats().peers.b?.connected === false, 'a to notice');
    const b2 = await startNode('b', { listen: { host: '127.0.0.1', port } });
    // Raft resends; so does this test, until the new incarnation hears one.
    await until(() => {
      a.transport.send(heartbeat('a', 'b', 2));
      return b2.received.length > 0;
    }, 'delivery after restart');
    expect(b2.received[0]).toMatchObject({ type: 'heartbeat', commit: 2 });
    expect(a.transport.stats().peers.b?.connects).toBe(2);
  });

  it('drops and logs a message it cannot encode, without throwing, and keeps sending', async () => {
    const a = await startNode('a');
    const b = await startNode('b');
    a.transport.setPeer('b', b.transport.address);
    expect(() => a.transport.send({ ...heartbeat('a', 'b', 1), term: Number.NaN })).not.toThrow();
    a.transport.send(heartbeat('a', 'b', 2));
    await until(() => b.received.length === 1, 'the good message');
    expect(b.received[0]).toMatchObject({ commit: 2 });
    expect(a.transport.stats().peers.b?.dropped).toBe(1);
    expect(a.logs).toContainEqual(expect.objectContaining({ event: 'message_dropped', peer: 'b' }));
  });

  it('stops talking to a removed peer', async () => {
    const { a, b } = await connectedPair();
    a.transport.removePeer('b');
    await until(() => b.transport.stats().inboundConnections === 0, 'the connection to close');
    a.transport.send(heartbeat('a', 'b', 2));
    expect(a.transport.stats().droppedUnknownPeer).toBe(1);
  });

  it('cuts off blocked peers both ways, and heals', async () => {
    const a = await startNode('a');
    const b = await startNode('b');
    a.transport.setPeer('b', b.transport.address);
    b.transport.setPeer('a', a.transport.address);
    a.transport.send(heartbeat('a', 'b', 1));
    await until(() => b.received.length === 1, 'delivery before the cut');
    a.transport.setBlockedPeers(['b']);
    expect(a.transport.blockedPeers()).toEqual(['b']);
    a.transport.send(heartbeat('a', 'b', 2));
    b.transport.send(heartbeat('b', 'a', 3));
    await until(() => a.transport.stats().droppedBlocked === 2, 'both directions dropped');
    expect(b.received).toHaveLength(1);
    expect(a.received).toHaveLength(0);
    a.transport.setBlockedPeers([]);
    a.transport.send(heartbeat('a', 'b', 4));
    b.transport.send(heartbeat('b', 'a', 5));
    await until(() => b.received.length === 2 && a.received.length === 1, 'delivery after healing');
    expect(b.received[1]).toMatchObject({ commit: 4 });
    expect(a.received[0]).toMatchObject({ commit: 5 });
  });

  it('bounds the queue of an unreachable peer, dropping the oldest', async () => {
    const a = await startNode('a', { sendQueueMessagesMax: 10 });
    const b = await startNode('b');
    const address = b.transport.address;
    await b.transport.close();
    a.transport.setPeer('b', address);
    for (let i = 1; i <= 100; i++) a.transport.send(heartbeat('a', 'b', i));
    expect(a.transport.stats().peers.b).toMatchObject({ queued: 10, dropped: 90, connected: false });
    a.transport.send(heartbeat('a', 'nobody', 1));
    expect(a.transport.stats().droppedUnknownPeer).toBe(1);
  });
});
