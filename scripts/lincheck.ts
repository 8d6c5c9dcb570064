// The `npm run lincheck -- [--format jepsen-etcd|jepsen-kv|jsonl] FILE...` command; the logic lives in
// libs/lincheck so that it is tested without a process. Usage and exit codes: docs/lincheck.md.
import { readFileSync } from 'node:fs';
import { runLincheck } from '@concord/lincheck';

process.exitCode = runLincheck(process.argv.slice(2), {
  readFile: (path) => readFileSync(path, 'utf8'),
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
});
