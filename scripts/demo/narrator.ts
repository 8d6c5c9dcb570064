/**
 * Narration of a demo: timestamped lines as things happen, claims checked at the end, PASS or FAIL. Pure apart from
 * the injected clock and writer, so its format is unit-tested.
 */

export interface Check {
  readonly claim: string;
  readonly ok: boolean;
  readonly detail: string;
}

export class Narrator {
  private readonly checks: Check[] = [];
  private readonly startedAtMs: number;

  constructor(
    private readonly nowMs: () => number = Date.now,
    private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  ) {
    this.startedAtMs = nowMs();
  }

  /** Milliseconds since the demo started. */
  elapsedMs(): number {
    return this.nowMs() - this.startedAtMs;
  }

  /** One line: wall-clock time, time since the start, the text. */
  say(text: string): void {
    const now = this.nowMs();
    const clock = new Date(now).toISOString().slice(11, 23);
    const since = `+${((now - this.startedAtMs) / 1000).toFixed(1)}s`.padStart(8);
    this.write(`${clock} ${since}  ${text}`);
  }

  /** A section heading, so that a long narration reads as acts. */
  step(title: string): void {
    this.say(`== ${title}`);
  }

  /** Records (and narrates) one claim of the demo; the verdict is the conjunction of every claim. */
  check(claim: string, ok: boolean, detail = ''): boolean {
    this.checks.push({ claim, ok, detail });
    this.say(`${ok ? 'ok  ' : 'FAIL'} ${claim}${detail === '' ? '' : ` (${detail})`}`);
    return ok;
  }

  /** Prints the verdict and returns the exit code: 0 when every claim held and at least one was checked. */
  verdict(scenario: string): 0 | 1 {
    const failed = this.checks.filter((c) => !c.ok);
    const pass = this.checks.length > 0 && failed.length === 0;
    this.write('');
    this.write(
      pass
        ? `PASS ${scenario}: ${this.checks.length} claims held`
        : `FAIL ${scenario}: ${failed.length} of ${this.checks.length} claims did not hold` +
            (this.checks.length === 0 ? ' (no claim was checked)' : ''),
    );
    for (const c of failed) this.write(`  - ${c.claim}${c.detail === '' ? '' : `: ${c.detail}`}`);
    return pass ? 0 : 1;
  }
}
