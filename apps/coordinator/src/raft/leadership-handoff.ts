import type { RaftStatus } from '@concord/raft';

/**
 * Where a leader that is shutting down hands its leadership: the voter (not itself) with the highest match index,
 * i.e. the one that needs the least catching up before it can take over (Raft thesis §3.10). Null when this node
 * does not lead or has no other voter.
 */
export function handoffTarget(status: Pick<RaftStatus, 'id' | 'role' | 'members'>): string | null {
  if (status.role !== 'leader') return null;
  let best: { id: string; match: number } | null = null;
  for (const m of status.members) {
    if (m.id === status.id || !m.voter) continue;
    const match = m.matchIndex ?? 0;
    if (best === null || match > best.match) best = { id: m.id, match };
  }
  return best?.id ?? null;
}
