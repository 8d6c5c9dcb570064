import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** prom-client's default process and Node.js metrics (collectDefaultMetrics), and Prometheus's own `up`. */
const BUILT_IN = [
  'up',
  'process_cpu_user_seconds_total',
  'process_cpu_system_seconds_total',
  'process_cpu_seconds_total',
  'process_start_time_seconds',
  'process_resident_memory_bytes',
  'process_open_fds',
  'nodejs_eventloop_lag_seconds',
  'nodejs_heap_size_used_bytes',
  'nodejs_heap_size_total_bytes',
  'nodejs_active_handles_total',
  'nodejs_gc_duration_seconds',
];

const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return entry === 'node_modules' ? [] : sourceFiles(full);
    return full.endsWith('.ts') && !full.endsWith('.spec.ts') && !full.endsWith('.int.ts') ? [full] : [];
  });
}

/**
 * Every metric name the apps and libraries register (read from their source: `name: '...'` in a prom-client
 * constructor, or `metrics.counter|gauge|histogram('...'`), with a histogram's series suffixes.
 */
export function registeredMetricNames(root: string): string[] {
  const names = new Set(BUILT_IN);
  const patterns = [
    /new (?:Counter|Gauge|Histogram|Summary)\(\{\s*name:\s*'([a-zA-Z_:][a-zA-Z0-9_:]*)'/g,
    /\.(?:counter|gauge|histogram)(?:<[^>]*>)?\(\s*'([a-zA-Z_:][a-zA-Z0-9_:]*)'/g,
  ];
  for (const file of [...sourceFiles(path.join(root, 'apps')), ...sourceFiles(path.join(root, 'libs'))]) {
    const text = readFileSync(file, 'utf8');
    for (const pattern of patterns) {
      for (const match of text.matchAll(pattern)) {
        const name = match[1] ?? '';
        names.add(name);
        for (const suffix of HISTOGRAM_SUFFIXES) names.add(`${name}${suffix}`);
      }
    }
  }
  return [...names].sort();
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'bool',
  'le',
  'inf',
  'nan',
]);

/** The metric names a PromQL expression selects (labels, functions, keywords and durations left out). */
export function metricsIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // grouping labels
  const names: string[] = [];
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = match[0];
    const after = stripped.slice((match.index ?? 0) + word.length).trimStart();
    if (after.startsWith('(')) continue; // a function
    if (KEYWORDS.has(word.toLowerCase())) continue;
    if (!names.includes(word)) names.push(word);
  }
  return names;
}
