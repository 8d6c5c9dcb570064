/**
 * `npm run dashboards`: writes the Grafana dashboards under docker/observability/grafana/dashboards from the
 * definitions below, so every panel has the same shape and the JSON in the repository is reproducible. A test
 * (test/observability/dashboards.spec.ts) checks that the files match and that every query names a real metric.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

interface PanelSpec {
  readonly title: string;
  readonly kind: 'timeseries' | 'stat' | 'table';
  readonly exprs: readonly { expr: string; legend?: string }[];
  readonly unit?: string;
  readonly description?: string;
}

interface DashboardSpec {
  readonly file: string;
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly panels: readonly PanelSpec[];
}

export const DASHBOARDS: readonly DashboardSpec[] = [
  {
    file: 'coordinator.json',
    uid: 'concord-coordinator',
    title: 'Concord · Coordinator (Raft)',
    description:
      'Leader, term, commit and apply progress of each node; request rates and latency of the API.',
    panels: [
      {
        title: 'Nodes knowing a leader',
        kind: 'stat',
        exprs: [{ expr: 'sum(raft_has_leader{job="coordinator"})' }],
      },
      {
        title: 'Leader',
        kind: 'table',
        exprs: [{ expr: 'max by (leader) (raft_leader{job="coordinator"})', legend: '{{leader}}' }],
      },
      {
        title: 'Term per node',
        kind: 'timeseries',
        exprs: [{ expr: 'raft_term{job="coordinator"}', legend: '{{instance}}' }],
      },
      {
        title: 'Role per node (1 = leader)',
        kind: 'timeseries',
        exprs: [{ expr: 'raft_role{job="coordinator",role="leader"}', legend: '{{instance}}' }],
      },
      {
        title: 'Commit index rate (entries/s)',
        kind: 'timeseries',
        exprs: [{ expr: 'rate(raft_commit_index{job="coordinator"}[1m])', legend: '{{instance}}' }],
      },
      {
        title: 'Apply lag (commit − applied)',
        kind: 'timeseries',
        exprs: [
          {
            expr: 'raft_commit_index{job="coordinator"} - raft_applied_index{job="coordinator"}',
            legend: '{{instance}}',
          },
        ],
      },
      {
        title: 'Members',
        kind: 'stat',
        exprs: [{ expr: 'max by (kind) (raft_members{job="coordinator"})', legend: '{{kind}}' }],
      },
      {
        title: 'Open watches',
        kind: 'timeseries',
        exprs: [{ expr: 'coordinator_watchers{job="coordinator"}', legend: '{{instance}}' }],
      },
      {
        title: 'Proposals/s by outcome',
        kind: 'timeseries',
        exprs: [
          {
            expr: 'sum by (outcome) (rate(raft_proposals_total{job="coordinator"}[1m]))',
            legend: '{{outcome}}',
          },
        ],
      },
      {
        title: 'WAL fsync p99 per node',
        kind: 'timeseries',
        exprs: [
          {
            expr: 'histogram_quantile(0.99, sum by (le, instance) (rate(raft_wal_fsync_duration_seconds_bucket{job="coordinator"}[1m])))',
            legend: '{{instance}}',
          },
        ],
        unit: 's',
      },
      {
        title: 'Snapshots saved per node',
        kind: 'timeseries',
        exprs: [
          { expr: 'raft_snapshot_save_duration_seconds_count{job="coordinator"}', legend: '{{instance}}' },
        ],
      },
      {
        title: 'API requests/s by route',
        kind: 'timeseries',
        exprs: [
          { expr: 'sum by (route) (rate(http_requests_total{job="coordinator"}[1m]))', legend: '{{route}}' },
        ],
        unit: 'reqps',
      },
      {
        title: 'API p99 latency by route',
        kind: 'timeseries',
        exprs: [
          {
            expr: 'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{job="coordinator"}[1m])))',
            legend: '{{route}}',
          },
        ],
        unit: 's',
      },
    ],
  },
  {
    file: 'gateway.json',
    uid: 'concord-gateway',
    title: 'Concord · Gateway',
    description: 'Traffic, latency and errors at the edge; per instance breaker state, retries, refusals.',
    panels: [
      {
        title: 'Requests/s by status',
        kind: 'timeseries',
        exprs: [{ expr: 'sum by (status) (rate(gateway_requests_total[1m]))', legend: '{{status}}' }],
        unit: 'reqps',
      },
      {
        title: 'Requests/s by instance',
        kind: 'timeseries',
        exprs: [{ expr: 'sum by (instance) (rate(gateway_requests_total[1m]))', legend: '{{instance}}' }],
        unit: 'reqps',
      },
      {
        title: 'p50 / p99 latency',
        kind: 'timeseries',
        exprs: [
          {
            expr: 'histogram_quantile(0.5, sum by (le) (rate(gateway_request_duration_seconds_bucket[1m])))',
            legend: 'p50',
          },
          {
            expr: 'histogram_quantile(0.99, sum by (le) (rate(gateway_request_duration_seconds_bucket[1m])))',
            legend: 'p99',
          },
        ],
        unit: 's',
      },
      {
        title: 'Breaker state (0 closed, 1 half-open, 2 open)',
        kind: 'timeseries',
        exprs: [
          { expr: 'max by (service, instance) (gateway_breaker_state)', legend: '{{service}}/{{instance}}' },
        ],
      },
      {
        title: 'In flight per instance',
        kind: 'timeseries',
        exprs: [
          {
            expr: 'max by (service, instance) (gateway_instance_in_flight)',
            legend: '{{service}}/{{instance}}',
          },
        ],
      },
      {
        title: 'Ejected instances',
        kind: 'timeseries',
        exprs: [
          {
            expr: 'max by (service, instance) (gateway_instance_ejected) > 0',
            legend: '{{service}}/{{instance}}',
          },
        ],
      },
      {
        title: 'Ring members per service',
        kind: 'timeseries',
        exprs: [{ expr: 'gateway_ring_members', legend: '{{service}}' }],
      },
      {
        title: 'Retries/s by reason',
        kind: 'timeseries',
        exprs: [{ expr: 'sum by (reason) (rate(gateway_retries_total[1m]))', legend: '{{reason}}' }],
      },
      {
        title: 'Refused at the edge/s by reason',
        kind: 'timeseries',
        exprs: [{ expr: 'sum by (reason) (rate(gateway_rejected_total[1m]))', legend: '{{reason}}' }],
      },
      {
        title: 'Gateway CPU seconds/s',
        kind: 'timeseries',
        exprs: [{ expr: 'rate(process_cpu_seconds_total{job="gateway"}[1m])', legend: 'cpu' }],
      },
    ],
  },
  {
    file: 'transactions.json',
    uid: 'concord-transactions',
    title: 'Concord · Transactions (sagas and 2PC)',
    description:
      'Sagas and two-phase commits by state, the leading orchestrator, and the services they drive.',
    panels: [
      {
        title: 'Instances by status',
        kind: 'timeseries',
        exprs: [{ expr: 'max by (status) (saga_instances)', legend: '{{status}}' }],
      },
      {
        title: 'Waiting by step',
        kind: 'timeseries',
        exprs: [{ expr: 'max by (mode, step) (saga_instances_by_step)', legend: '{{mode}} {{step}}' }],
      },
      {
        title: 'Step p99 duration',
        kind: 'timeseries',
        exprs: [
          {
            expr: 'histogram_quantile(0.99, sum by (le, step) (rate(saga_step_duration_seconds_bucket[1m])))',
            legend: '{{step}}',
          },
        ],
        unit: 's',
      },
      {
        title: 'Compensations and aborts/s',
        kind: 'timeseries',
        exprs: [{ expr: 'sum by (mode) (rate(saga_compensations_total[1m]))', legend: '{{mode}}' }],
      },
      {
        title: 'In-doubt 2PC transactions',
        kind: 'stat',
        exprs: [{ expr: 'max(twopc_in_doubt_transactions)' }],
      },
      {
        title: 'Oldest unsettled (s)',
        kind: 'stat',
        exprs: [{ expr: 'max(saga_oldest_unsettled_seconds)' }],
        unit: 's',
      },
      {
        title: 'Leading orchestrator',
        kind: 'table',
        exprs: [{ expr: 'orchestrator_leader == 1', legend: '{{instance}}' }],
      },
      {
        title: 'Fencing token',
        kind: 'timeseries',
        exprs: [{ expr: 'max(orchestrator_fencing_token)', legend: 'token' }],
      },
      {
        title: 'Oldest prepared transaction (s)',
        kind: 'timeseries',
        exprs: [
          { expr: 'max by (job) (participant_prepared_transactions_oldest_seconds)', legend: '{{job}}' },
        ],
        unit: 's',
      },
      {
        title: 'Orders API requests/s by status',
        kind: 'timeseries',
        exprs: [
          { expr: 'sum by (status) (rate(http_requests_total{job="orders"}[1m]))', legend: '{{status}}' },
        ],
        unit: 'reqps',
      },
      {
        title: 'Read cache hit ratio',
        kind: 'timeseries',
        exprs: [
          {
            expr: 'sum by (job) (rate(cache_hits_total[1m])) / (sum by (job) (rate(cache_hits_total[1m])) + sum by (job) (rate(cache_misses_total[1m])))',
            legend: '{{job}}',
          },
        ],
        unit: 'percentunit',
      },
    ],
  },
];

function panel(spec: PanelSpec, id: number): Record<string, unknown> {
  const width = spec.kind === 'stat' ? 6 : 12;
  return {
    id,
    type: spec.kind,
    title: spec.title,
    ...(spec.description === undefined ? {} : { description: spec.description }),
    datasource: { type: 'prometheus', uid: 'prometheus' },
    gridPos: { h: 8, w: width, x: 0, y: id * 8 },
    fieldConfig: { defaults: { unit: spec.unit ?? 'short' }, overrides: [] },
    options: {},
    targets: spec.exprs.map((e, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: { type: 'prometheus', uid: 'prometheus' },
      expr: e.expr,
      ...(e.legend === undefined ? {} : { legendFormat: e.legend }),
    })),
  };
}

/** The dashboard JSON Grafana provisions (schemaVersion 39), laid out two panels a row. */
export function render(spec: DashboardSpec): string {
  let x = 0;
  let y = 0;
  const panels = spec.panels.map((p, i) => {
    const built = panel(p, i + 1);
    const pos = built['gridPos'] as { w: number; h: number; x: number; y: number };
    if (x + pos.w > 24) {
      x = 0;
      y += 8;
    }
    pos.x = x;
    pos.y = y;
    x += pos.w;
    return built;
  });
  const dashboard = {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: ['concord'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    editable: false,
    refresh: '5s',
    time: { from: 'now-15m', to: 'now' },
    panels,
  };
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}

export const DASHBOARD_DIR = path.resolve(import.meta.dirname, '../docker/observability/grafana/dashboards');

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  for (const spec of DASHBOARDS) {
    await writeFile(path.join(DASHBOARD_DIR, spec.file), render(spec));
    process.stdout.write(`${path.relative(process.cwd(), path.join(DASHBOARD_DIR, spec.file))}\n`);
  }
}
