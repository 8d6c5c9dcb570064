import type { Clock, TimerHandle } from '@concord/resilience';
import type { UpstreamInstance } from './static-upstreams.js';

export const SERVICES_PREFIX = 'services/';

/** A registry change: `services/{service}/{id}` put with its JSON value, or deleted. */
export type RegistryChange =
  | { readonly type: 'put'; readonly key: string; readonly value: string }
  | { readonly type: 'delete'; readonly key: string };

/** Parses a registry key; undefined when it is not `services/{service}/{id}`. */
export function parseServiceKey(key: string): { service: string; id: string } | undefined {
  if (!key.startsWith(SERVICES_PREFIX)) return undefined;
  const rest = key.slice(SERVICES_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1 || rest.indexOf('/', slash + 1) >= 0) return undefined;
  return { service: rest.slice(0, slash), id: rest.slice(slash + 1) };
}

export const MAX_INSTANCE_WEIGHT = 1000;

/** A registry value that cannot be used, and why (for the warning and the metric's reason label). */
export type InstanceValueResult =
  | { readonly ok: true; readonly instance: UpstreamInstance }
  | { readonly ok: false; readonly reason: 'json' | 'url' | 'weight' | 'zone' };

/**
 * Parses a registry value `{url, zone?, weight?, meta?}`: url an absolute http(s) URL, weight a number in
 * (0, 1000] (default 1). Anything else is refused, never passed on to the balancer (a weight of 1e300 would
 * make the ring builder allocate without bound).
 */
export function parseInstanceValue(id: string, value: string): InstanceValueResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return { ok: false, reason: 'json' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { ok: false, reason: 'json' };
  const { url, zone, weight } = parsed as { url?: unknown; zone?: unknown; weight?: unknown };
  if (typeof url !== 'string' || !isHttpUrl(url)) return { ok: false, reason: 'url' };
  if (weight !== undefined && !isWeight(weight)) return { ok: false, reason: 'weight' };
  if (zone !== undefined && typeof zone !== 'string') return { ok: false, reason: 'zone' };
  return {
    ok: true,
    instance: { id, url: url.replace(/\/+$/, ''), weight: weight ?? 1, zone },
  };
}

export function isHttpUrl(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const parsed = new URL(url);
  return (parsed.protocol === 'http:' || parsed.protocol === 'https:') && parsed.hostname !== '';
}

export function isWeight(weight: unknown): weight is number {
  return typeof weight === 'number' && Number.isFinite(weight) && weight > 0 && weight <= MAX_INSTANCE_WEIGHT;
}

/**
 * Membership of every service, with changes merged over a short window: a burst of registry events (a
 * deployment rolling ten instances) rebuilds each affected ring once, not once per event. State is applied
 * immediately to the pending view; listeners see it at the end of the window, one call per changed service.
 */
export class MembershipBatcher {
  private readonly current = new Map<string, Map<string, UpstreamInstance>>();
  private readonly dirty = new Set<string>();
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly windowMs: number,
    private readonly onFlush: (service: string, instances: readonly UpstreamInstance[]) => void,
    private readonly onRefused: (key: string, reason: string) => void = () => undefined,
  ) {}

  /** Replaces one service's instances (static list, or a fresh listing). */
  setService(service: string, instances: readonly UpstreamInstance[]): void {
    this.current.set(service, new Map(instances.map((i) => [i.id, i])));
    this.markDirty(service);
  }

  /**
   * Replaces everything under the registry with a listing: services absent from it lose their
   * instances, except those in `keep` (static services the registry does not know).
   */
  reset(items: readonly { key: string; value: string }[], keep: ReadonlySet<string> = new Set()): void {
    const next = new Map<string, Map<string, UpstreamInstance>>();
    for (const item of items) {
      const name = parseServiceKey(item.key);
      if (!name) continue;
      const parsed = parseInstanceValue(name.id, item.value);
      if (!parsed.ok) {
        this.onRefused(item.key, parsed.reason);
        continue;
      }
      const instance = parsed.instance;
      let map = next.get(name.service);
      if (!map) next.set(name.service, (map = new Map<string, UpstreamInstance>()));
      map.set(name.id, instance);
    }
    for (const service of this.current.keys()) {
      if (!next.has(service) && !keep.has(service)) {
        this.current.set(service, new Map());
        this.markDirty(service);
      }
    }
    for (const [service, map] of next) {
      this.current.set(service, map);
      this.markDirty(service);
    }
  }

  apply(change: RegistryChange): void {
    const name = parseServiceKey(change.key);
    if (!name) return;
    let map = this.current.get(name.service);
    if (!map) this.current.set(name.service, (map = new Map<string, UpstreamInstance>()));
    if (change.type === 'delete') {
      if (!map.delete(name.id)) return;
    } else {
      const parsed = parseInstanceValue(name.id, change.value);
      if (!parsed.ok) {
        // The registry now says this instance is something unusable: it leaves the pool.
        this.onRefused(change.key, parsed.reason);
        if (!map.delete(name.id)) return;
      } else {
        map.set(name.id, parsed.instance);
      }
    }
    this.markDirty(name.service);
  }

  instances(service: string): UpstreamInstance[] {
    return [...(this.current.get(service)?.values() ?? [])];
  }

  /** Applies pending changes now (also what the window's timer does). */
  flush(): void {
    this.timer?.cancel();
    this.timer = undefined;
    const services = [...this.dirty].sort();
    this.dirty.clear();
    for (const service of services) this.onFlush(service, this.instances(service));
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private markDirty(service: string): void {
    this.dirty.add(service);
    if (this.windowMs === 0) {
      this.flush();
      return;
    }
    this.timer ??= this.clock.setTimer(this.windowMs, () => this.flush());
  }
}
