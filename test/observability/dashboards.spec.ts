/**
 * The Grafana dashboards and Prometheus alert rules in docker/observability: valid, reproducible from
 * scripts/dashboards.ts, and every query names a metric some Concord app registers (or Prometheus itself adds).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DASHBOARD_DIR, DASHBOARDS, render } from '../../scripts/dashboards.js';
import { metricsIn, registeredMetricNames } from './metric-names.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const known = registeredMetricNames(ROOT);

function queriesOf(file: string): string[] {
  const dashboard = JSON.parse(readFileSync(path.join(DASHBOARD_DIR, file), 'utf8')) as {
    panels: { targets: { expr: string }[] }[];
  };
  return dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
}

describe('Grafana dashboards', () => {
  it('are the three the docs promise, each reproducible from scripts/dashboards.ts', () => {
    expect(readdirSync(DASHBOARD_DIR).sort()).toEqual([
      'coordinator.json',
      'gateway.json',
      'transactions.json',
    ]);
    for (const spec of DASHBOARDS) {
      expect(
        readFileSync(path.join(DASHBOARD_DIR, spec.file), 'utf8'),
        `${spec.file}: run npm run dashboards`,
      ).toBe(render(spec));
    }
  });

  it('query only metrics that exist', () => {
    for (const spec of DASHBOARDS) {
      const queries = queriesOf(spec.file);
      expect(queries.length, spec.file).toBeGreaterThan(5);
      for (const expr of queries) {
        const names = metricsIn(expr);
        expect(names.length, expr).toBeGreaterThan(0);
        for (const name of names) expect(known, `${spec.file}: ${expr}`).toContain(name);
      }
    }
  });

  it('the check is not vacuous: an unknown metric is caught', () => {
    expect(metricsIn('sum by (route) (rate(gateway_requestz_total{job="gateway"}[1m]))')).toEqual([
      'gateway_requestz_total',
    ]);
    expect(known).not.toContain('gateway_requestz_total');
    expect(
      metricsIn('histogram_quantile(0.99, sum by (le) (rate(x_seconds_bucket[5m]))) > 1 and on() up == 0'),
    ).toEqual(['x_seconds_bucket', 'up']);
  });
});

describe('Prometheus alert rules', () => {
  const rules = parse(readFileSync(path.join(ROOT, 'docker/observability/alerts.yml'), 'utf8')) as {
    groups: { rules: { alert: string; expr: string; annotations: { summary: string } }[] }[];
  };
  const all = rules.groups.flatMap((g) => g.rules);

  it('cover no leader, breaker open, sagas stuck and old prepared transactions', () => {
    expect(all.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'CoordinatorNoLeader',
        'GatewayBreakerOpen',
        'SagasStuck',
        'PreparedTransactionsOld',
      ]),
    );
    for (const r of all) expect(r.annotations.summary.length, r.alert).toBeGreaterThan(10);
  });

  it('query only metrics that exist', () => {
    for (const r of all) {
      for (const name of metricsIn(r.expr)) expect(known, `${r.alert}: ${r.expr}`).toContain(name);
    }
  });

  it('scrape every app of the compose topology', () => {
    const prometheus = parse(
      readFileSync(path.join(ROOT, 'docker/observability/prometheus.yml'), 'utf8'),
    ) as {
      scrape_configs: { job_name: string }[];
    };
    const apps = readdirSync(path.join(ROOT, 'apps')).sort();
    expect(prometheus.scrape_configs.map((s) => s.job_name).sort()).toEqual(apps);
  });
});
