import type { StateMachine } from '../ports.js';
import type { Entry } from '../types.js';

/** A command of the replicated key/value store, as carried in a `normal` entry. */
export type KvCommand =
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'delete'; readonly key: string }
  /** Compare-and-set; `expect: null` means "only if absent". */
  | { readonly op: 'cas'; readonly key: string; readonly expect: string | null; readonly value: string };

/** `value` is the value read (get), the previous value (put, delete) or the current value (cas). */
export interface KvResult {
  readonly ok: boolean;
  readonly value: string | null;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeKvCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(cmd));
}

function decodeKvCommand(data: Uint8Array): KvCommand | null {
  try {
    const parsed = JSON.parse(decoder.decode(data)) as Partial<KvCommand> | null;
    if (
      parsed &&
      typeof parsed === 'object' &&
      typeof parsed.key === 'string' &&
      typeof parsed.op === 'string'
    ) {
      return parsed as KvCommand;
    }
    return null;
  } catch {
    return null;
  }
}

/**
 * A small deterministic key/value state machine. Only `normal` entries carry commands; anything that
 * does not decode is applied as a no-op with result `{ ok: false, value: null }` (determinism over
 * strictness: every node must reach the same state from the same log).
 */
export class KvStateMachine implements StateMachine<KvResult> {
  private data = new Map<string, string>();
  appliedIndex = 0;

  apply(entry: Entry): KvResult {
    this.appliedIndex = entry.index;
    if (entry.type !== 'normal') return { ok: true, value: null };
    const cmd = decodeKvCommand(entry.data);
    if (!cmd) return { ok: false, value: null };
    const current = this.data.get(cmd.key) ?? null;
    switch (cmd.op) {
      case 'get':
        return { ok: true, value: current };
      case 'put':
        this.data.set(cmd.key, cmd.value);
        return { ok: true, value: current };
      case 'delete':
        this.data.delete(cmd.key);
        return { ok: true, value: current };
      case 'cas':
        if (current !== cmd.expect) return { ok: false, value: current };
        this.data.set(cmd.key, cmd.value);
        return { ok: true, value: current };
      default:
        return { ok: false, value: null };
    }
  }

  get(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  snapshot(): Uint8Array {
    const sorted = [...this.data.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return encoder.encode(JSON.stringify({ applied: this.appliedIndex, data: sorted }));
  }

  restore(bytes: Uint8Array): void {
    const parsed = JSON.parse(decoder.decode(bytes)) as { applied: number; data: [string, string][] };
    this.data = new Map(parsed.data);
    this.appliedIndex = parsed.applied;
  }
}
