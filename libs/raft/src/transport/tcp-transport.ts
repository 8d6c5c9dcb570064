/**
 * Raft peer transport over TCP.
 *
 * Each node listens for its peers and keeps one outgoing connection per peer: messages to B travel on the
 * connection A opened to B, messages from B arrive on the one B opened to A. Every connection starts with
 * the mutual HMAC handshake of handshake.ts; until it completes, frames are limited to
 * `HANDSHAKE_FRAME_BYTES_MAX`, anything unexpected closes the connection, and the close is logged.
 *
 * `send` never blocks and never throws: the message joins the peer's bounded queue (oldest dropped and
 * counted when full) and is written when the connection is up and the socket has room. A lost connection
 * is retried with exponential backoff and jitter, so a restarted peer is reached again without help.
 */
import { createServer, type Server, Socket } from 'node:net';
import { ByteReader, ByteWriter, CodecError } from '../codec/bytes.js';
import { readMessage, writeMessage } from '../codec/message-codec.js';
import type { Transport } from '../ports.js';
import type { Message, NodeId } from '../types.js';
import { FRAME_HEADER_BYTES, FrameDecoder, FrameError, FrameKind, writeFrame, type Frame } from './frames.js';
import {
  CLUSTER_SECRET_BYTES_MIN,
  computeProof,
  HANDSHAKE_VERSION,
  newNonce,
  NONCE_BYTES,
  PROOF_BYTES,
  verifyProof,
} from './handshake.js';
import { DropOldestQueue } from './send-queue.js';

/** Hello, challenge and proof frames are tiny; an unauthenticated peer gets no more than this. */
export const HANDSHAKE_FRAME_BYTES_MAX = 1024;
/** One socket write carries at most about this much, so one busy peer cannot hog the event loop. */
const FLUSH_BYTES_MAX = 1024 * 1024;

export interface TransportLogEvent {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  /** e.g. `auth_failed`, `frame_too_large`, `protocol_error`, `peer_connected`, `connect_failed`. */
  readonly event: string;
  readonly peer?: NodeId;
  readonly remote?: string;
  readonly detail?: string;
}

export interface TcpTransportOptions {
  readonly nodeId: NodeId;
  /** Where to listen; port 0 picks a free port (see {@link TcpTransport.address}). */
  readonly listen: { readonly host: string; readonly port: number };
  /** Shared by every member; at least 16 bytes. Never sent on the wire. */
  readonly clusterSecret: Uint8Array | string;
  /** Largest frame accepted from an authenticated peer; a larger one closes the connection. Default 16 MiB. */
  readonly frameBytesMax?: number;
  /** Messages waiting per peer; beyond it the oldest are dropped. Default 4096. */
  readonly sendQueueMessagesMax?: number;
  /** Reconnect backoff: doubles from min to max per failed attempt, then jittered to 50-100 %. */
  readonly reconnectDelayMsMin?: number;
  readonly reconnectDelayMsMax?: number;
  /** A connection not authenticated within this is closed. Default 5000 ms. */
  readonly handshakeTimeoutMs?: number;
  /** Source of jitter, injectable for tests. Default Math.random. */
  readonly random?: () => number;
  readonly log?: (event: TransportLogEvent) => void;
}

export interface PeerStats {
  readonly address: string;
  readonly connected: boolean;
  readonly queued: number;
  readonly sent: number;
  /** Dropped because the queue was full, or because the message was too large to send. */
  readonly dropped: number;
  readonly connects: number;
}

export interface TransportStats {
  readonly peers: Record<NodeId, PeerStats>;
  readonly received: number;
  /** Messages to a node that is not a known peer. */
  readonly droppedUnknownPeer: number;
  /** Messages dropped to or from a peer cut off by `setBlockedPeers`. */
  readonly droppedBlocked: number;
  readonly inboundConnections: number;
}

function parseAddress(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  const port = Number(match?.[2]);
  if (match?.[1] === undefined || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new RangeError(`transport: bad peer address "${address}" (want host:port)`);
  }
  return { host: match[1], port };
}

const remoteOf = (socket: Socket): string => `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;

interface Settings {
  readonly nodeId: NodeId;
  readonly secret: Uint8Array;
  readonly frameBytesMax: number;
  readonly sendQueueMessagesMax: number;
  readonly reconnectDelayMsMin: number;
  readonly reconnectDelayMsMax: number;
  readonly handshakeTimeoutMs: number;
  readonly random: () => number;
  readonly log: (event: TransportLogEvent) => void;
}

/** The outgoing side: one per peer, owns its queue, connection and reconnect timer. */
class PeerLink {
  readonly queue: DropOldestQueue<Message>;
  private socket: Socket | null = null;
  private ready = false;
  private writable = true;
  private flushScheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private handshakeTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private closed = false;
  private readonly frames = new ByteWriter(64 * 1024);
  sent = 0;
  droppedTooLarge = 0;
  connects = 0;

  constructor(
    readonly peerId: NodeId,
    readonly address: string,
    private readonly settings: Settings,
  ) {
    this.queue = new DropOldestQueue(settings.sendQueueMessagesMax);
    this.connect();
  }

  get connected(): boolean {
    return this.ready;
  }

  enqueue(message: Message): void {
    this.queue.push(message);
    if (this.ready) this.scheduleFlush();
  }

  close(): void {
    this.closed = true;
    this.clearTimers();
    this.socket?.destroy();
    this.socket = null;
    this.queue.clear();
  }

  private clearTimers(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.retryTimer = null;
    this.handshakeTimer = null;
  }

  private connect(): void {
    this.retryTimer = null;
    if (this.closed) return;
    const { host, port } = parseAddress(this.address);
    const socket = new Socket();
    this.socket = socket;
    const clientNonce = newNonce();
    const decoder = new FrameDecoder(HANDSHAKE_FRAME_BYTES_MAX);
    const fail = (level: TransportLogEvent['level'], event: string, detail: string): void => {
      this.settings.log({ level, event, peer: this.peerId, remote: this.address, detail });
      socket.destroy();
    };
    socket.setNoDelay(true);
    socket.on('error', (error) => {
      this.settings.log({
        level: this.ready ? 'warn' : 'debug',
        event: this.ready ? 'connection_error' : 'connect_failed',
        peer: this.peerId,
        remote: this.address,
        detail: error.message,
      });
    });
    socket.on('close', () => this.onClose(socket));
    socket.on('drain', () => {
      this.writable = true;
      this.flush();
    });
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      for (;;) {
        let frame: Frame | undefined;
        try {
          frame = decoder.next();
        } catch (error: unknown) {
          return fail('warn', 'frame_too_large', (error as Error).message);
        }
        if (frame === undefined) return;
        if (this.ready || frame.kind !== FrameKind.challenge) {
          return fail('warn', 'protocol_error', `unexpected frame kind ${frame.kind} from the server`);
        }
        try {
          const r = new ByteReader(frame.body);
          const serverId = r.string();
          const serverNonce = r.raw(NONCE_BYTES);
          const serverProof = r.raw(PROOF_BYTES);
          r.expectEnd();
          const transcript = { clientId: this.settings.nodeId, serverId, clientNonce, serverNonce };
          if (serverId !== this.peerId) {
            return fail('warn', 'auth_failed', `expected node ${this.peerId}, reached ${serverId}`);
          }
          if (!verifyProof(this.settings.secret, 'server', transcript, serverProof)) {
            return fail('warn', 'auth_failed', 'server proof does not match the cluster secret');
          }
          this.write(FrameKind.proof, (w) => w.raw(computeProof(this.settings.secret, 'client', transcript)));
        } catch (error: unknown) {
          if (error instanceof CodecError) return fail('warn', 'protocol_error', error.message);
          throw error;
        }
        this.onReady();
      }
    });
    this.handshakeTimer = setTimeout(
      () => fail('warn', 'handshake_timeout', `no handshake within ${this.settings.handshakeTimeoutMs} ms`),
      this.settings.handshakeTimeoutMs,
    );
    socket.connect({ host, port }, () => {
      this.write(FrameKind.hello, (w) => {
        w.u8(HANDSHAKE_VERSION);
        w.string(this.settings.nodeId);
        w.string(this.peerId);
        w.raw(clientNonce);
      });
    });
  }

  private onReady(): void {
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    this.ready = true;
    this.writable = true;
    this.failures = 0;
    this.connects++;
    this.settings.log({ level: 'info', event: 'peer_connected', peer: this.peerId, remote: this.address });
    this.flush();
  }

  private onClose(socket: Socket): void {
    if (this.socket !== socket) return;
    this.socket = null;
    if (this.ready) {
      this.settings.log({
        level: 'info',
        event: 'peer_disconnected',
        peer: this.peerId,
        remote: this.address,
      });
    }
    this.ready = false;
    this.clearTimers();
    if (this.closed) return;
    const ceilingMs = Math.min(
      this.settings.reconnectDelayMsMax,
      this.settings.reconnectDelayMsMin * 2 ** Math.min(this.failures, 30),
    );
    this.failures++;
    const delayMs = ceilingMs * (0.5 + 0.5 * this.settings.random());
    this.retryTimer = setTimeout(() => this.connect(), delayMs);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Messages sent in the same turn go out in one write (one syscall, one TCP segment when small).
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Writes what is queued now (also called at the end of a turn, see scheduleFlush); nothing before the handshake. */
  flush(): void {
    const socket = this.socket;
    if (!this.ready || socket === null || this.queue.length === 0) return;
    this.frames.reset();
    while (this.writable && this.frames.length < FLUSH_BYTES_MAX) {
      const message = this.queue.shift();
      if (message === undefined) break;
      const start = this.frames.length;
      try {
        const frameBytes = writeFrame(this.frames, FrameKind.message, (w) => writeMessage(w, message));
        if (frameBytes - FRAME_HEADER_BYTES > this.settings.frameBytesMax) {
          throw new RangeError(`a frame of ${frameBytes} bytes is over the limit`);
        }
        this.sent++;
      } catch (error: unknown) {
        // Never throw from send: an unencodable or oversized message is dropped, counted and logged.
        this.frames.rewind(start);
        this.droppedTooLarge++;
        this.settings.log({
          level: 'error',
          event: 'message_dropped',
          peer: this.peerId,
          detail: String(error),
        });
      }
    }
    if (this.frames.length > 0) this.writable = socket.write(this.frames.toBytes());
    if (this.writable && this.queue.length > 0) this.scheduleFlush();
  }

  private write(kind: number, body: (w: ByteWriter) => void): void {
    const w = new ByteWriter(256);
    writeFrame(w, kind, body);
    this.socket?.write(w.toBytes());
  }
}

/** One accepted connection: handshake as the server, then receive messages. */
function acceptConnection(
  socket: Socket,
  settings: Settings,
  deliver: (message: Message, peerId: NodeId) => void,
  onClose: () => void,
): void {
  const remote = remoteOf(socket);
  const decoder = new FrameDecoder(HANDSHAKE_FRAME_BYTES_MAX);
  let state: 'hello' | 'proof' | 'ready' = 'hello';
  let transcript: { clientId: NodeId; serverId: NodeId; clientNonce: Uint8Array; serverNonce: Uint8Array };
  const fail = (event: string, detail: string): void => {
    settings.log({
      level: 'warn',
      event,
      remote,
      detail,
      ...(state === 'ready' ? { peer: transcript.clientId } : {}),
    });
    socket.destroy();
  };
  const timer = setTimeout(
    () => fail('handshake_timeout', `no handshake within ${settings.handshakeTimeoutMs} ms`),
    settings.handshakeTimeoutMs,
  );
  socket.setNoDelay(true);
  socket.on('error', (error) =>
    settings.log({ level: 'debug', event: 'connection_error', remote, detail: error.message }),
  );
  socket.on('close', () => {
    clearTimeout(timer);
    onClose();
  });

  const onFrame = (frame: Frame): boolean => {
    const r = new ByteReader(frame.body);
    if (state === 'ready' && frame.kind === FrameKind.message) {
      const message = readMessage(r);
      r.expectEnd();
      if (message.from !== transcript.clientId || message.to !== settings.nodeId) {
        fail(
          'protocol_error',
          `message ${message.from} -> ${message.to} on ${transcript.clientId}'s connection`,
        );
        return false;
      }
      deliver(message, transcript.clientId);
      return true;
    }
    if (state === 'hello' && frame.kind === FrameKind.hello) {
      const version = r.u8();
      const clientId = r.string();
      const serverId = r.string();
      const clientNonce = r.raw(NONCE_BYTES);
      r.expectEnd();
      if (version !== HANDSHAKE_VERSION) {
        fail('protocol_error', `handshake version ${version}`);
        return false;
      }
      if (serverId !== settings.nodeId) {
        fail('auth_failed', `${clientId} expected node ${serverId}, this is ${settings.nodeId}`);
        return false;
      }
      transcript = { clientId, serverId, clientNonce, serverNonce: newNonce() };
      const w = new ByteWriter(256);
      writeFrame(w, FrameKind.challenge, (w) => {
        w.string(settings.nodeId);
        w.raw(transcript.serverNonce);
        w.raw(computeProof(settings.secret, 'server', transcript));
      });
      socket.write(w.toBytes());
      state = 'proof';
      return true;
    }
    if (state === 'proof' && frame.kind === FrameKind.proof) {
      const clientProof = r.raw(PROOF_BYTES);
      r.expectEnd();
      if (!verifyProof(settings.secret, 'client', transcript, clientProof)) {
        fail('auth_failed', `${transcript.clientId}'s proof does not match the cluster secret`);
        return false;
      }
      state = 'ready';
      clearTimeout(timer);
      decoder.frameBytesMax = settings.frameBytesMax;
      settings.log({ level: 'info', event: 'peer_accepted', peer: transcript.clientId, remote });
      return true;
    }
    fail('protocol_error', `unexpected frame kind ${frame.kind} in state ${state}`);
    return false;
  };

  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    for (;;) {
      try {
        const frame = decoder.next();
        if (frame === undefined || !onFrame(frame)) return;
      } catch (error: unknown) {
        if (error instanceof FrameError) return fail('frame_too_large', error.message);
        if (error instanceof CodecError) return fail('protocol_error', error.message);
        throw error;
      }
    }
  });
}

export class TcpTransport implements Transport {
  private readonly settings: Settings;
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly inbound = new Set<Socket>();
  private readonly handlers: ((message: Message) => void)[] = [];
  private received = 0;
  private droppedUnknownPeer = 0;
  private closed = false;
  /** Fault injection for tests and demos (see `setBlockedPeers`): peers cut off from this node. */
  private blocked: ReadonlySet<NodeId> = new Set();
  private droppedBlocked = 0;

  private constructor(
    options: TcpTransportOptions,
    private readonly server: Server,
  ) {
    const secret =
      typeof options.clusterSecret === 'string'
        ? Buffer.from(options.clusterSecret, 'utf8')
        : options.clusterSecret;
    if (secret.length < CLUSTER_SECRET_BYTES_MIN) {
      throw new RangeError(`transport: the cluster secret needs at least ${CLUSTER_SECRET_BYTES_MIN} bytes`);
    }
    const log = options.log ?? (() => undefined);
    this.settings = {
      nodeId: options.nodeId,
      secret,
      frameBytesMax: options.frameBytesMax ?? 16 * 1024 * 1024,
      sendQueueMessagesMax: options.sendQueueMessagesMax ?? 4096,
      reconnectDelayMsMin: options.reconnectDelayMsMin ?? 50,
      reconnectDelayMsMax: options.reconnectDelayMsMax ?? 5000,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
      random: options.random ?? Math.random,
      log: (event) => {
        try {
          log(event);
        } catch {
          // A failing logger must not take the transport down with it.
        }
      },
    };
    server.on('connection', (socket) => {
      if (this.closed) return void socket.destroy();
      this.inbound.add(socket);
      acceptConnection(
        socket,
        this.settings,
        (message) => this.deliver(message),
        () => this.inbound.delete(socket),
      );
    });
  }

  /** Listens, then returns the transport. Peers are connected as they are added with `setPeer`. */
  static async start(options: TcpTransportOptions): Promise<TcpTransport> {
    const server = createServer();
    const transport = new TcpTransport(options, server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.listen.port, options.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return transport;
  }

  /** `host:port` this node listens on (the real port when started with port 0). */
  get address(): string {
    const bound = this.server.address();
    if (bound === null || typeof bound === 'string') throw new Error('transport: not listening on TCP');
    return bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;
  }

  send(message: Message): void {
    if (this.blocked.has(message.to)) {
      this.droppedBlocked++;
      return;
    }
    const link = this.links.get(message.to);
    if (link === undefined || this.closed) {
      this.droppedUnknownPeer++;
      return;
    }
    link.enqueue(message);
  }

  /**
   * Writes every peer's queue now (one write per peer). Without it, what `send` queued goes out at the end of the
   * event-loop turn, behind whatever else the turn runs: on a commit's critical path (the leader's appends, a
   * follower's acknowledgement) that cost ~0.2-0.3 ms per hop on an idle machine.
   */
  flush(): void {
    for (const link of this.links.values()) link.flush();
  }

  onMessage(handler: (message: Message) => void): void {
    this.handlers.push(handler);
  }

  setPeer(id: NodeId, address: string): void {
    if (this.closed || id === this.settings.nodeId) return;
    parseAddress(address);
    const existing = this.links.get(id);
    if (existing?.address === address) return;
    existing?.close();
    this.links.set(id, new PeerLink(id, address, this.settings));
  }

  /**
   * Fault injection, for tests and demos: from now on, messages to and from these peers are dropped
   * as if the network between them and this node were cut (connections stay up; nothing is queued).
   * An empty list heals. The caller decides who may call it (the coordinator: only with
   * FAULT_INJECTION=true, from loopback, with a token).
   */
  setBlockedPeers(ids: readonly NodeId[]): void {
    this.blocked = new Set(ids);
  }

  blockedPeers(): NodeId[] {
    return [...this.blocked];
  }

  removePeer(id: NodeId): void {
    this.links.get(id)?.close();
    this.links.delete(id);
  }

  stats(): TransportStats {
    const peers: Record<NodeId, PeerStats> = {};
    for (const [id, link] of this.links) {
      peers[id] = {
        address: link.address,
        connected: link.connected,
        queued: link.queue.length,
        sent: link.sent,
        dropped: link.queue.dropped + link.droppedTooLarge,
        connects: link.connects,
      };
    }
    return {
      peers,
      received: this.received,
      droppedUnknownPeer: this.droppedUnknownPeer,
      droppedBlocked: this.droppedBlocked,
      inboundConnections: this.inbound.size,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links.values()) link.close();
    this.links.clear();
    for (const socket of this.inbound) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private deliver(message: Message): void {
    if (this.blocked.has(message.from)) {
      this.droppedBlocked++;
      return;
    }
    this.received++;
    for (const handler of this.handlers) {
      try {
        handler(message);
      } catch (error: unknown) {
        this.settings.log({
          level: 'error',
          event: 'handler_failed',
          peer: message.from,
          detail: String(error),
        });
      }
    }
  }
}
