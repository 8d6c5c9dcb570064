import { Injectable } from '@nestjs/common';

/** A dependency that must answer for this instance to take traffic (a database, NATS, the coordinator...). */
export interface ReadinessCheck {
  readonly name: string;
  /** Resolves when the dependency is usable; rejects (or times out) otherwise. */
  check(): Promise<void>;
}

export interface ReadinessReport {
  readonly status: 'ready' | 'not ready' | 'draining';
  readonly checks: Record<string, { ok: boolean; error?: string; ms: number }>;
}

/** Collects the checks an app's modules register, and runs them for `GET /health/ready`. */
@Injectable()
export class ReadinessRegistry {
  private readonly checks = new Map<string, ReadinessCheck>();
  private draining = false;
  readonly checkTimeoutMs = 2_000;

  register(check: ReadinessCheck): void {
    this.checks.set(check.name, check);
  }

  /** From the first SIGTERM on, the instance reports not ready so that balancers move traffic away. */
  startDraining(): void {
    this.draining = true;
  }

  async report(): Promise<ReadinessReport> {
    const entries = await Promise.all(
      [...this.checks.values()].map(async (c) => [c.name, await this.run(c)] as const),
    );
    const checks = Object.fromEntries(entries);
    if (this.draining) return { status: 'draining', checks };
    const ok = entries.every(([, r]) => r.ok);
    return { status: ok ? 'ready' : 'not ready', checks };
  }

  private async run(check: ReadinessCheck): Promise<{ ok: boolean; error?: string; ms: number }> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        check.check(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`timed out after ${this.checkTimeoutMs} ms`)),
            this.checkTimeoutMs,
          );
        }),
      ]);
      return { ok: true, ms: Math.round(performance.now() - started) };
    } catch (error) {
      return {
        ok: false,
        error: error instanceof Error ? error.message : String(error),
        ms: Math.round(performance.now() - started),
      };
    } finally {
      clearTimeout(timer);
    }
  }
}
