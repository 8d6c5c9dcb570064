import { checkHistory } from './check.js';
import type { HistoryFormat, HistoryOperation } from './history.js';
import { guessFormat, historyFormats, isHistoryFormat, parseHistory } from './parse/formats.js';
import { HistoryParseError } from './parse/parse-error.js';

/** What the command line touches, passed in so that it runs in tests without a process. */
export interface LincheckIo {
  /** Returns the file's text; throws when it cannot be read. */
  readFile(path: string): string;
  stdout(line: string): void;
  stderr(line: string): void;
}

export const lincheckExit = { linearizable: 0, notLinearizable: 1, badInput: 2 } as const;

const usage = `usage: lincheck [--format ${historyFormats.join('|')}] [--verbose] FILE...
Prints "FILE: linearizable" or "FILE: not linearizable" for each file.
Exit 0 when all are linearizable, 1 when any is not, 2 on bad input.
Without --format, each file's format is guessed from its content, then its name.`;

/**
 * The `npm run lincheck` command. Every file is checked even after a bad one, so one run reports
 * everything; the exit code is the worst outcome (bad input over a violation).
 */
export function runLincheck(args: readonly string[], io: LincheckIo): number {
  let format: HistoryFormat | undefined;
  let verbose = false;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--') {
      files.push(...args.slice(i + 1));
      break;
    }
    if (arg === '--help' || arg === '-h') {
      io.stdout(usage);
      return lincheckExit.linearizable;
    }
    if (arg === '--verbose' || arg === '-v') {
      verbose = true;
      continue;
    }
    if (arg === '--format' || arg.startsWith('--format=')) {
      const value = arg === '--format' ? args[++i] : arg.slice('--format='.length);
      if (value === undefined || !isHistoryFormat(value)) {
        io.stderr(`lincheck: --format needs one of ${historyFormats.join(', ')}, got ${value ?? 'nothing'}`);
        return lincheckExit.badInput;
      }
      format = value;
      continue;
    }
    if (arg.startsWith('-') && arg !== '-') {
      io.stderr(`lincheck: unknown option ${arg}\n${usage}`);
      return lincheckExit.badInput;
    }
    files.push(arg);
  }
  if (files.length === 0) {
    io.stderr(`lincheck: no files given\n${usage}`);
    return lincheckExit.badInput;
  }

  let exit: number = lincheckExit.linearizable;
  for (const file of files) exit = Math.max(exit, checkFile(file, format, verbose, io));
  return exit;
}

function checkFile(
  file: string,
  forced: HistoryFormat | undefined,
  verbose: boolean,
  io: LincheckIo,
): number {
  let text: string;
  try {
    text = io.readFile(file);
  } catch (error) {
    io.stderr(`${file}: cannot read: ${(error as Error).message}`);
    return lincheckExit.badInput;
  }
  const format = forced ?? guessFormat(file, text);
  if (format === undefined) {
    io.stderr(`${file}: cannot guess the format; pass --format ${historyFormats.join('|')}`);
    return lincheckExit.badInput;
  }
  let result;
  try {
    result = checkHistory(parseHistory(text, format));
  } catch (error) {
    if (!(error instanceof HistoryParseError)) throw error;
    io.stderr(`${file}:${error.line}: ${error.message.replace(/^line \d+: /, '')} (as ${format})`);
    return lincheckExit.badInput;
  }
  if (verbose) {
    io.stderr(
      `${file}: ${format}, ${result.operations} operations, ${result.keys} keys, ${result.steps} steps`,
    );
    if (result.failure !== undefined) {
      const { key, longestPrefix, stuck } = result.failure;
      io.stderr(
        `${file}: key ${JSON.stringify(key)}: longest legal order places ${longestPrefix.length} operations`,
      );
      for (const op of stuck.slice(0, 5)) io.stderr(`${file}:   cannot place ${describe(op)}`);
    }
  }
  io.stdout(`${file}: ${result.linearizable ? 'linearizable' : 'not linearizable'}`);
  return result.linearizable ? lincheckExit.linearizable : lincheckExit.notLinearizable;
}

function describe(op: HistoryOperation): string {
  return JSON.stringify(op);
}
