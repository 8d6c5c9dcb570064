export {
  InvalidOperationError,
  type AppendOperation,
  type History,
  type HistoryFormat,
  type HistoryOperation,
  type KvOperation,
  type KvOperationKind,
} from './history.js';
export { registerModel, registerModelFor, type Model } from './model.js';
export {
  searchLinearization,
  type SearchOptions,
  type SearchResult,
  type TimedOperation,
  type Verdict,
} from './search.js';
export { checkHistory, checkKv, type CheckFailure, type CheckOptions, type CheckResult } from './check.js';
export { HistoryParseError } from './parse/parse-error.js';
export { parseJepsenEtcd, registerKey } from './parse/jepsen-etcd.js';
export { parseJepsenKv } from './parse/jepsen-kv.js';
export { parseJsonl } from './parse/jsonl.js';
export { guessFormat, historyFormats, isHistoryFormat, parseHistory } from './parse/formats.js';
export { lincheckExit, runLincheck, type LincheckIo } from './cli.js';
