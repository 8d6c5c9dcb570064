import { readFileSync } from 'node:fs';

/** A script's documentation: its header comment (the options are documented once, there). */
export function scriptHeader(file: string): string {
  const header = readFileSync(file, 'utf8').split('*/')[0] ?? '';
  return header.replace(/^\/\*\*\n?|^ \* ?/gm, '').trimEnd();
}

/**
 * `--help` or `-h` anywhere in `argv`: prints the script's header comment and exits 0. Any other `--flag` not in
 * `known`: prints what is wrong and the header, and exits 2 (a mistyped option must not start a long run).
 */
export function handleHelp(file: string, argv: readonly string[], known: readonly string[]): void {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${scriptHeader(file)}\n`);
    process.exit(0);
  }
  const unknown = argv.filter(
    (a) => a.startsWith('--') && a !== '--' && !known.includes(a.slice(2).split('=')[0] ?? ''),
  );
  if (unknown.length > 0) {
    process.stderr.write(`unknown option ${unknown.join(', ')}\n\n${scriptHeader(file)}\n`);
    process.exit(2);
  }
}
