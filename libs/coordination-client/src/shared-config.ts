import type { KeyValue } from './coordination-client.js';
import type { Coordination } from './coordination.js';

/**
 * Shared configuration (limits, feature flags) kept in the coordinator under a prefix, e.g. `config/orders/`,
 * loaded once and followed by watch. Reads are local and never block; until the first load, defaults apply.
 */
export class SharedConfig {
  private readonly values = new Map<string, string>();
  private readonly listeners = new Set<(key: string, value: string | undefined) => void>();
  private watch: { stop(): void } | undefined;

  constructor(
    private readonly client: Coordination | null,
    readonly prefix: string,
  ) {}

  /** Without a coordinator: every read answers its fallback. */
  static detached(prefix: string): SharedConfig {
    return new SharedConfig(null, prefix);
  }

  async start(): Promise<void> {
    if (this.client === null) return;
    const listed = await this.client.range(this.prefix, { limit: 10_000 });
    this.reset(listed.items);
    this.watch = this.client.watch(
      { prefix: this.prefix },
      {
        fromRevision: listed.revision + 1,
        onEvent: (event) => this.set(event.kv.key, event.type === 'put' ? event.kv.value : undefined),
        onReset: (items) => this.reset(items),
      },
    );
  }

  stop(): void {
    this.watch?.stop();
  }

  /** The value of `<prefix><name>`, or the fallback. */
  get(name: string, fallback: string): string {
    return this.values.get(this.prefix + name) ?? fallback;
  }

  getNumber(name: string, fallback: number): number {
    const raw = this.values.get(this.prefix + name);
    const value = raw === undefined ? Number.NaN : Number(raw);
    return Number.isFinite(value) ? value : fallback;
  }

  getFlag(name: string, fallback: boolean): boolean {
    const raw = this.values.get(this.prefix + name);
    return raw === undefined ? fallback : raw === 'true' || raw === '1' || raw === 'on';
  }

  onChange(listener: (key: string, value: string | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private reset(items: readonly KeyValue[]): void {
    const next = new Map(items.map((kv) => [kv.key, kv.value]));
    for (const key of new Set([...this.values.keys(), ...next.keys()])) this.set(key, next.get(key));
  }

  private set(key: string, value: string | undefined): void {
    if (this.values.get(key) === value) return;
    if (value === undefined) this.values.delete(key);
    else this.values.set(key, value);
    for (const listener of this.listeners) listener(key, value);
  }
}
