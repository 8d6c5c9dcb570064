import type { ConfChange, ConfState, NodeId } from '../types.js';

/**
 * Membership, one server at a time (Raft thesis §4.1). A configuration takes effect on every server as
 * soon as its entry is in the server's log, committed or not (thesis §4.1), so the core recomputes it
 * when a conflicting suffix is truncated.
 */

/** The payload of a `config` entry: one change, or the full configuration a new cluster boots with. */
export type ConfEntryPayload = { readonly change: ConfChange } | { readonly bootstrap: ConfState };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfEntry(payload: ConfEntryPayload): Uint8Array {
  return encoder.encode(JSON.stringify(payload));
}

export function decodeConfEntry(data: Uint8Array): ConfEntryPayload {
  const parsed = JSON.parse(decoder.decode(data)) as ConfEntryPayload;
  if (!('change' in parsed) && !('bootstrap' in parsed)) throw new Error('conf: malformed config entry');
  return parsed;
}

export function applyConfEntry(conf: ConfState, payload: ConfEntryPayload): ConfState {
  if ('bootstrap' in payload)
    return { voters: [...payload.bootstrap.voters], learners: [...payload.bootstrap.learners] };
  return applyConfChange(conf, payload.change);
}

export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  const voters = conf.voters.filter((v) => v !== change.node);
  const learners = conf.learners.filter((v) => v !== change.node);
  switch (change.type) {
    case 'addLearner':
      if (conf.voters.includes(change.node)) return conf;
      return { voters, learners: [...learners, change.node] };
    case 'promote':
      if (!conf.learners.includes(change.node)) return conf;
      return { voters: [...voters, change.node], learners };
    case 'remove':
      return { voters, learners };
  }
}

export function isVoter(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id);
}

export function members(conf: ConfState): NodeId[] {
  return [...conf.voters, ...conf.learners];
}

export function quorumSize(conf: ConfState): number {
  return Math.floor(conf.voters.length / 2) + 1;
}
