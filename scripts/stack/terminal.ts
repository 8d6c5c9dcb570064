/*
 * What `npm run stack` shows on its terminal (pure functions; run-stack.ts does the I/O).
 *
 * Every process's full log goes to .data/logs/<process>.log. The terminal gets only what a person needs: warnings
 * and errors, lines that are not JSON (a crash's stack trace, a configuration error), process exits and restarts,
 * and a status line when the status changes (at most one per status interval).
 */

const SHOWN_LEVELS: ReadonlySet<string> = new Set(['warn', 'error', 'fatal']);
/** Fields that say what a warning is about (which peer, which upstream); the rest stays in the log file. */
const DETAIL_FIELDS = ['peer', 'service', 'url', 'status', 'detail', 'reason'] as const;

/** The terminal's rendering of one output line of `process`, or undefined to leave it to the log file only. */
export function terminalLine(process: string, raw: string): string | undefined {
  const line = raw.trimEnd();
  if (line === '') return undefined;
  let record: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return `${label(process)} ${line}`;
    record = parsed as Record<string, unknown>;
  } catch {
    return `${label(process)} ${line}`;
  }
  const level = typeof record.level === 'string' ? record.level : 'info';
  if (!SHOWN_LEVELS.has(level)) return undefined;
  const text = typeof record.msg === 'string' ? record.msg : '';
  const err = record.err as { message?: unknown } | undefined;
  const detail = typeof err?.message === 'string' && err.message !== text ? `: ${err.message}` : '';
  const context = typeof record.context === 'string' ? ` [${record.context}]` : '';
  const fields = DETAIL_FIELDS.filter((k) => typeof record[k] === 'string' || typeof record[k] === 'number')
    .map((k) => ` ${k}=${String(record[k])}`)
    .join('');
  return `${label(process)} ${level.toUpperCase()} ${text}${detail}${fields}${context}`;
}

export function label(process: string): string {
  return `${process.padEnd(16)}|`;
}

/** Samples of a Prometheus text exposition: `name{labels}` → value (labels kept as written). */
export function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*(?:\{.*\})?)\s+(\S+)/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) samples.set(match[1], Number(match[2]));
  }
  return samples;
}

/** The sum of every sample of `metric` whose labels pass `keep` (all, by default). */
export function sumOf(
  samples: ReadonlyMap<string, number>,
  metric: string,
  keep: (labels: string) => boolean = () => true,
): number {
  let total = 0;
  for (const [key, value] of samples) {
    const brace = key.indexOf('{');
    const name = brace === -1 ? key : key.slice(0, brace);
    if (name === metric && keep(brace === -1 ? '' : key.slice(brace)) && Number.isFinite(value))
      total += value;
  }
  return total;
}

export interface StackStatus {
  /** Raft leader id and term, or undefined when no coordinator answered. */
  readonly raft: { readonly leader: string | null; readonly term: number } | undefined;
  /** Requests per second through the gateway over the last interval, or undefined before the second sample. */
  readonly requestsPerSecond: number | undefined;
  /** Saga and two-phase instances not finished, or undefined when no orchestrator answered. */
  readonly sagasInFlight: number | undefined;
  readonly processesUp: number;
  readonly processes: number;
}

/** One compact line; equal statuses render equal lines, so the caller prints only on change. */
export function statusLine(status: StackStatus): string {
  const raft =
    status.raft === undefined
      ? 'raft: no answer'
      : status.raft.leader === null
        ? `raft: no leader (term ${status.raft.term})`
        : `raft: ${status.raft.leader} leads term ${status.raft.term}`;
  const rps = status.requestsPerSecond === undefined ? '-' : formatRate(status.requestsPerSecond);
  const sagas = status.sagasInFlight === undefined ? '-' : String(status.sagasInFlight);
  return `status | ${raft} · ${rps} req/s · ${sagas} sagas in flight · ${status.processesUp}/${status.processes} up`;
}

/** Two significant figures at most, so that noise in the last digit does not print a new line every interval. */
export function formatRate(perSecond: number): string {
  if (perSecond < 0.05) return '0';
  if (perSecond < 10) return perSecond.toFixed(1);
  const magnitude = 10 ** (Math.floor(Math.log10(perSecond)) - 1);
  return String(Math.round(perSecond / magnitude) * magnitude);
}
