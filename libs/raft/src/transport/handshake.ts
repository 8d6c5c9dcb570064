/**
 * Mutual authentication of two nodes that share a cluster secret, without ever sending the secret:
 *
 *   client -> server  hello(version, clientId, serverId, clientNonce)
 *   server -> client  challenge(serverId, serverNonce, serverProof)
 *   client -> server  proof(clientProof)
 *
 *   proof = HMAC-SHA256(secret, role label | clientId | serverId | clientNonce | serverNonce)
 *
 * Each side proves knowledge of the secret over a nonce the other side just chose, so a recorded handshake
 * cannot be replayed; the role label differs per direction, so a proof cannot be reflected back at its sender.
 * Proofs are compared in constant time. This authenticates; it does not encrypt (run it on a private network
 * or under TLS/WireGuard if peer traffic must be confidential).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ByteWriter } from '../codec/bytes.js';
import type { NodeId } from '../types.js';

export const HANDSHAKE_VERSION = 1;
export const NONCE_BYTES = 32;
export const PROOF_BYTES = 32;
export const CLUSTER_SECRET_BYTES_MIN = 16;

export type Role = 'client' | 'server';

export interface Transcript {
  readonly clientId: NodeId;
  readonly serverId: NodeId;
  readonly clientNonce: Uint8Array;
  readonly serverNonce: Uint8Array;
}

export const newNonce = (): Uint8Array => randomBytes(NONCE_BYTES);

export function computeProof(secret: Uint8Array, role: Role, t: Transcript): Uint8Array {
  const w = new ByteWriter(256);
  w.string(`concord-raft/${role}`);
  w.string(t.clientId);
  w.string(t.serverId);
  w.raw(t.clientNonce);
  w.raw(t.serverNonce);
  return createHmac('sha256', secret).update(w.view()).digest();
}

export function verifyProof(secret: Uint8Array, role: Role, t: Transcript, received: Uint8Array): boolean {
  const expected = computeProof(secret, role, t);
  return received.length === expected.length && timingSafeEqual(received, expected);
}
