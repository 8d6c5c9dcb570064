import { FINISHED_STATUSES } from '@concord/saga';
import { label, parsePrometheus, type StackStatus, statusLine, sumOf } from './terminal.js';

export interface WatchedProcess {
  readonly name: string;
  readonly url: string;
}

export interface StatusWatchOptions {
  readonly coordinatorUrls: readonly string[];
  readonly coordinatorToken: string;
  readonly gatewayUrl: string;
  readonly orchestratorUrls: readonly string[];
  readonly processes: readonly WatchedProcess[];
  readonly intervalMs: number;
  readonly write: (line: string) => void;
  /** Names whose exit the stack already reported, so that "not answering" is not said twice. */
  readonly exited: ReadonlySet<string>;
}

const PROBE_TIMEOUT_MS = 2_000;
const finished: ReadonlySet<string> = new Set(FINISHED_STATUSES);

async function get(url: string, token?: string): Promise<string | undefined> {
  try {
    const response = await fetch(url, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    return response.ok ? await response.text() : undefined;
  } catch {
    return undefined;
  }
}

async function firstAnswer<T>(urls: readonly string[], read: (url: string) => Promise<T | undefined>) {
  for (const url of urls) {
    const value = await read(url);
    if (value !== undefined) return value;
  }
  return undefined;
}

/**
 * Every `intervalMs`: which processes answer GET /health, the Raft leader and term, the gateway's request rate and
 * the sagas in flight. Prints a status line when it differs from the last one printed, and a line when a process
 * stops or starts answering (a demo restarts the processes it kills). Returns a function that stops it.
 */
export function watchStatus(options: StatusWatchOptions): () => void {
  const up = new Map(options.processes.map((p) => [p.name, true]));
  let lastLine = '';
  let lastRequests: { total: number; at: number } | undefined;
  let running = false;
  let rounds = 0;

  const tick = async () => {
    if (running) return; // a slow round (a machine under load) never overlaps the next
    running = true;
    try {
      const answers = await Promise.all(
        options.processes.map(async (p) => (await get(`${p.url}/health`)) !== undefined),
      );
      const time = new Date().toISOString().slice(11, 19);
      options.processes.forEach((p, i) => {
        const now = answers[i] ?? false;
        if (now === up.get(p.name)) return;
        up.set(p.name, now);
        if (now) options.write(`${label(p.name)} ${time} answering again at ${p.url}`);
        else if (!options.exited.has(p.name))
          options.write(`${label(p.name)} ${time} not answering at ${p.url}`);
      });

      const raft = await firstAnswer(options.coordinatorUrls, async (url) => {
        const body = await get(`${url}/v1/cluster`, options.coordinatorToken);
        if (body === undefined) return undefined;
        const view = JSON.parse(body) as { leader: string | null; term: number };
        return { leader: view.leader, term: view.term };
      });
      const gateway = await get(`${options.gatewayUrl}/metrics`);
      let requestsPerSecond: number | undefined;
      if (gateway !== undefined) {
        const total = sumOf(parsePrometheus(gateway), 'gateway_requests_total');
        const at = Date.now();
        if (lastRequests !== undefined && total >= lastRequests.total && at > lastRequests.at) {
          requestsPerSecond = ((total - lastRequests.total) * 1000) / (at - lastRequests.at);
        }
        lastRequests = { total, at };
      }
      const sagasInFlight = await firstAnswer(options.orchestratorUrls, async (url) => {
        const text = await get(`${url}/metrics`);
        if (text === undefined) return undefined;
        return sumOf(parsePrometheus(text), 'saga_instances', (labels) => {
          const status = /status="([^"]*)"/.exec(labels)?.[1] ?? '';
          return !finished.has(status);
        });
      });
      const status: StackStatus = {
        raft,
        requestsPerSecond,
        sagasInFlight,
        processesUp: [...up.values()].filter(Boolean).length,
        processes: options.processes.length,
      };
      const line = statusLine(status);
      // The first round has no rate yet: from the second on, so that the first line printed is a full one.
      rounds += 1;
      if (line !== lastLine && rounds > 1) {
        lastLine = line;
        options.write(`${line} · ${time}`);
      }
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), options.intervalMs);
  void tick();
  return () => clearInterval(timer);
}
