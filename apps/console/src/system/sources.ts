import type { NodeAnswer, PollResult, RingsAnswer, TransactionAnswer } from './snapshot.js';
import { sumCounterByLabel } from './prometheus.js';

/** Where the console looks, and with which credential each part is read. */
export interface SourceSettings {
  readonly coordinatorUrls: readonly string[];
  readonly coordinatorToken: string | undefined;
  readonly gatewayUrl: string | undefined;
  readonly gatewayAdminToken: string | undefined;
  readonly orchestratorUrls: readonly string[];
  readonly orchestratorToken: string | undefined;
  /** How many recent sagas and 2PC transactions (each) to show. */
  readonly recentTransactions: number;
  readonly requestTimeoutMs: number;
}

export type Fetch = (
  url: string,
  init: { headers: Record<string, string>; signal: AbortSignal },
) => Promise<{
  ok: boolean;
  status: number;
  json(): Promise<unknown>;
  text(): Promise<string>;
}>;

const bearer = (token: string | undefined): Record<string, string> =>
  token === undefined ? {} : { authorization: `Bearer ${token}` };

/**
 * Reads each part of the system over its own HTTP API: every coordinator node's `/v1/cluster` (a node that does
 * not answer is down), the gateway's `/admin/rings` and `/metrics`, and the orchestrator's recent sagas and
 * transactions with their steps. Every call has a deadline, so one stuck part never stalls the picture.
 */
export class SystemSources {
  constructor(
    private readonly settings: SourceSettings,
    private readonly fetchFn: Fetch,
    private readonly nowMs: () => number,
  ) {}

  async poll(): Promise<PollResult> {
    const [coordinators, rings, requestCounts, transactions] = await Promise.all([
      Promise.all(this.settings.coordinatorUrls.map((url) => this.node(url))),
      this.rings(),
      this.requestCounts(),
      this.transactions(),
    ]);
    return { atMs: this.nowMs(), coordinators, rings, requestCounts, transactions };
  }

  private async get(url: string, token: string | undefined): Promise<unknown> {
    const response = await this.fetchFn(url, {
      headers: { accept: 'application/json', ...bearer(token) },
      signal: AbortSignal.timeout(this.settings.requestTimeoutMs),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  }

  private async node(url: string): Promise<NodeAnswer> {
    try {
      const view = (await this.get(`${url}/v1/cluster`, this.settings.coordinatorToken)) as Extract<
        NodeAnswer,
        { ok: true }
      >['view'];
      if (typeof view?.id !== 'string' || !Array.isArray(view.members)) throw new Error('unexpected answer');
      return { url, ok: true, view };
    } catch (error) {
      return { url, ok: false, error: describe(error) };
    }
  }

  private async rings(): Promise<PollResult['rings']> {
    if (this.settings.gatewayUrl === undefined) return { ok: false, error: 'no gateway configured' };
    try {
      const value = (await this.get(
        `${this.settings.gatewayUrl}/admin/rings`,
        this.settings.gatewayAdminToken,
      )) as RingsAnswer;
      if (!Array.isArray(value?.services)) throw new Error('unexpected answer');
      return { ok: true, value };
    } catch (error) {
      return { ok: false, error: describe(error) };
    }
  }

  private async requestCounts(): Promise<Map<string, number> | undefined> {
    if (this.settings.gatewayUrl === undefined) return undefined;
    try {
      const response = await this.fetchFn(`${this.settings.gatewayUrl}/metrics`, {
        headers: bearer(this.settings.gatewayAdminToken),
        signal: AbortSignal.timeout(this.settings.requestTimeoutMs),
      });
      if (!response.ok) return undefined;
      return sumCounterByLabel(await response.text(), 'gateway_requests_total', 'instance');
    } catch {
      return undefined;
    }
  }

  /** The first orchestrator that answers: both read the same log. */
  private async transactions(): Promise<PollResult['transactions']> {
    let lastError = 'no orchestrator configured';
    for (const base of this.settings.orchestratorUrls) {
      try {
        const limit = this.settings.recentTransactions;
        const lists = (await Promise.all([
          this.get(`${base}/v1/sagas?limit=${limit}`, this.settings.orchestratorToken),
          this.get(`${base}/v1/transactions?limit=${limit}`, this.settings.orchestratorToken),
        ])) as { items: TransactionAnswer[] }[];
        const recent = lists
          .flatMap((l) => l.items ?? [])
          .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
          .slice(0, limit);
        // Steps are read for the shown ones only: one request each, in parallel.
        const items = await Promise.all(
          recent.map(async (t) => {
            const path = t.mode === '2pc' ? 'transactions' : 'sagas';
            try {
              return (await this.get(
                `${base}/v1/${path}/${t.id}`,
                this.settings.orchestratorToken,
              )) as TransactionAnswer;
            } catch {
              return t;
            }
          }),
        );
        return { ok: true, items: items.map(trim) };
      } catch (error) {
        lastError = `${base}: ${describe(error)}`;
      }
    }
    return { ok: false, error: lastError };
  }
}

/** Only what the page shows: never the input (it may hold customer data), never the replies. */
function trim(t: TransactionAnswer): TransactionAnswer {
  return {
    id: t.id,
    type: t.type,
    mode: t.mode,
    status: t.status,
    ...(t.reason === undefined ? {} : { reason: t.reason }),
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
    steps: (t.steps ?? []).map((s) => ({
      step: s.step,
      status: s.status,
      attempts: s.attempts,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt,
    })),
  };
}

function describe(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string } };
  if (e?.name === 'TimeoutError') return 'no answer in time';
  return e?.cause?.code ?? e?.message ?? String(error);
}
