/**
 * Runs `pass` every `intervalMs` (0 = never), never two passes at once: a tick that finds the previous pass still
 * running is skipped. The timer does not keep the process alive; `stop()` clears it and waits for the pass in
 * flight. Errors are the pass's own business (it logs them); an escaped one is swallowed, never unhandled.
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly pass: () => Promise<unknown>,
  ) {}

  /** Starts ticking; with `immediately`, the first pass runs now rather than after one interval. */
  start(options: { immediately?: boolean } = {}): void {
    if (options.immediately === true) this.tick();
    if (this.intervalMs <= 0 || this.timer !== undefined) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** Whether the timer runs (started and not stopped since). */
  get active(): boolean {
    return this.timer !== undefined;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private tick(): void {
    this.running ??= this.pass()
      .catch(() => undefined)
      .finally(() => (this.running = undefined));
  }
}
