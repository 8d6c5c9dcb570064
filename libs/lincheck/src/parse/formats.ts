import type { History, HistoryFormat } from '../history.js';
import { parseJepsenEtcd } from './jepsen-etcd.js';
import { parseJepsenKv } from './jepsen-kv.js';
import { parseJsonl } from './jsonl.js';

export const historyFormats: readonly HistoryFormat[] = ['jepsen-etcd', 'jepsen-kv', 'jsonl'];

export function isHistoryFormat(text: string): text is HistoryFormat {
  return (historyFormats as readonly string[]).includes(text);
}

export function parseHistory(text: string, format: HistoryFormat): History {
  switch (format) {
    case 'jepsen-etcd':
      return parseJepsenEtcd(text);
    case 'jepsen-kv':
      return parseJepsenKv(text);
    case 'jsonl':
      return parseJsonl(text);
  }
}

/**
 * Guesses a file's format, content first: a first non-blank line `{"…` is jsonl, `{:…` is Jepsen kv
 * EDN, and any `jepsen.util` line makes a Jepsen etcd log. Failing that, the name decides:
 * `.jsonl`/`.ndjson` is jsonl, `.edn` Jepsen kv, `.log` Jepsen etcd. `undefined` when nothing fits.
 */
export function guessFormat(fileName: string, text: string): HistoryFormat | undefined {
  const first = text.split('\n').find((line) => line.trim() !== '');
  if (first !== undefined) {
    if (/^\s*\{\s*"/.test(first)) return 'jsonl';
    if (/^\s*\{\s*:/.test(first)) return 'jepsen-kv';
  }
  if (text.includes('jepsen.util')) return 'jepsen-etcd';
  if (/\.(jsonl|ndjson)$/i.test(fileName)) return 'jsonl';
  if (/\.edn$/i.test(fileName)) return 'jepsen-kv';
  if (/\.log$/i.test(fileName)) return 'jepsen-etcd';
  return undefined;
}
