/**
 * `npm run logs -- <process|all> [--follow]`: the stack's log files (.data/logs/<process>.log), pretty-printed.
 *
 *   npm run logs -- orders-1             one process, whole file
 *   npm run logs -- all --follow         every process, interleaved by time, then new lines as they come
 *   npm run logs -- coordinator --follow every process whose name starts with "coordinator"
 *
 * STACK_DATA_DIR (default .data) is read as `npm run stack` reads it. Lines that are not JSON are printed as they are.
 */
import { createReadStream, existsSync, readdirSync, statSync, watch } from 'node:fs';
import path from 'node:path';
import { prettyFactory } from 'pino-pretty';

const ROOT = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const follow = args.includes('--follow') || args.includes('-f');
const wanted = args.find((a) => !a.startsWith('-'));
const logDir = path.resolve(ROOT, process.env['STACK_DATA_DIR'] ?? '.data', 'logs');

const available = existsSync(logDir)
  ? readdirSync(logDir)
      .filter((f) => f.endsWith('.log'))
      .map((f) => f.slice(0, -'.log'.length))
      .sort()
  : [];
if (wanted === undefined || available.length === 0) {
  process.stderr.write(
    available.length === 0
      ? `logs: no logs in ${path.relative(ROOT, logDir)} yet (start the stack: npm start)\n`
      : `usage: npm run logs -- <process|all> [--follow]\nprocesses: ${available.join(', ')}\n`,
  );
  process.exit(1);
}
const chosen =
  wanted === 'all' ? available : available.filter((name) => name === wanted || name.startsWith(`${wanted}-`));
if (chosen.length === 0) {
  process.stderr.write(`logs: no process "${wanted}"; have: all, ${available.join(', ')}\n`);
  process.exit(1);
}

const pretty = prettyFactory({
  colorize: process.stdout.isTTY,
  translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
  messageKey: 'msg',
  // app and instance are the file's name already; pid and hostname say nothing here.
  ignore: 'pid,hostname,app,instance',
  singleLine: true,
});
const width = Math.max(...chosen.map((n) => n.length));
const render = (name: string, line: string): string => {
  const text = pretty(line).trimEnd();
  return chosen.length === 1 ? text : `${name.padEnd(width)} | ${text}`;
};
const timeOf = (line: string): string => /"time":"([^"]+)"/.exec(line)?.[1] ?? '';

/** Reads `file` from byte `from` to its current end; returns the complete lines and where the next read starts. */
async function readFrom(file: string, from: number): Promise<{ lines: string[]; next: number }> {
  const size = statSync(file).size;
  if (size < from) from = 0; // truncated or replaced: start over
  if (size === from) return { lines: [], next: from };
  let text = '';
  for await (const chunk of createReadStream(file, { start: from, end: size - 1, encoding: 'utf8' }))
    text += chunk as string;
  const cut = text.lastIndexOf('\n') + 1; // keep a partial last line for the next read
  return {
    lines: text.slice(0, cut).split('\n').filter(Boolean),
    next: from + Buffer.byteLength(text.slice(0, cut)),
  };
}

const offsets = new Map<string, number>();
const everything: { name: string; line: string; time: string }[] = [];
for (const name of chosen) {
  const { lines, next } = await readFrom(path.join(logDir, `${name}.log`), 0);
  offsets.set(name, next);
  for (const line of lines) everything.push({ name, line, time: timeOf(line) });
}
// ISO timestamps sort as strings; a stable sort keeps each file's own order for lines without one.
if (chosen.length > 1)
  everything.sort((a, b) => (a.time === '' || b.time === '' ? 0 : a.time.localeCompare(b.time)));
for (const { name, line } of everything) process.stdout.write(`${render(name, line)}\n`);

if (follow) {
  const pending = new Set<string>();
  let reading = false;
  const drain = async () => {
    if (reading) return;
    reading = true;
    while (pending.size > 0) {
      const [name] = pending;
      if (name === undefined) break;
      pending.delete(name);
      const { lines, next } = await readFrom(path.join(logDir, `${name}.log`), offsets.get(name) ?? 0);
      offsets.set(name, next);
      for (const line of lines) process.stdout.write(`${render(name, line)}\n`);
    }
    reading = false;
  };
  watch(logDir, (_event, file) => {
    const name = file?.endsWith('.log') ? file.slice(0, -'.log'.length) : undefined;
    if (name === undefined || !chosen.includes(name)) return;
    pending.add(name);
    void drain();
  });
}
