/**
 * Reads one counter out of a Prometheus text exposition, summed by one label. Enough for the console's request
 * rates; a full parser is not needed for a format whose samples are one per line.
 */
export function sumCounterByLabel(text: string, metric: string, label: string): Map<string, number> {
  const sums = new Map<string, number>();
  const labelPattern = new RegExp(`(?:^|,)${label}="((?:[^"\\\\]|\\\\.)*)"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric)) continue;
    const rest = line.slice(metric.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue; // another metric sharing the prefix
    const close = rest.indexOf('}');
    const labels = rest[0] === '{' ? rest.slice(1, close) : '';
    const valueText = (rest[0] === '{' ? rest.slice(close + 1) : rest).trim().split(' ')[0] ?? '';
    const value = Number(valueText);
    if (!Number.isFinite(value)) continue;
    const match = labelPattern.exec(labels);
    if (match === null) continue;
    const key = match[1] ?? '';
    sums.set(key, (sums.get(key) ?? 0) + value);
  }
  return sums;
}
