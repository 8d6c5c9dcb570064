import { isHttpUrl, isWeight } from './membership.js';

/** One instance of a service, as the registry (or STATIC_UPSTREAMS) describes it. */
export interface UpstreamInstance {
  readonly id: string;
  /** Base URL, e.g. http://127.0.0.1:8101 (no trailing slash). */
  readonly url: string;
  readonly weight: number;
  readonly zone: string | undefined;
}

/** Instances by service name. */
export type Membership = Readonly<Record<string, readonly UpstreamInstance[]>>;

/**
 * Parses `orders=orders-1@http://127.0.0.1:8101,orders-2@http://127.0.0.1:8102;inventory=...`. An instance
 * may carry a weight: `orders-3@http://127.0.0.1:8103*2`. Throws an Error saying what is wrong.
 */
export function parseStaticUpstreams(raw: string): Record<string, UpstreamInstance[]> {
  const result: Record<string, UpstreamInstance[]> = {};
  for (const group of raw
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = group.indexOf('=');
    if (eq <= 0) throw new Error(`"${group}" must look like service=id@url,id@url`);
    const service = group.slice(0, eq).trim();
    const instances: UpstreamInstance[] = [];
    for (const item of group
      .slice(eq + 1)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const at = item.indexOf('@');
      if (at <= 0) throw new Error(`"${item}" must look like id@url`);
      let url = item.slice(at + 1);
      let weight = 1;
      const star = url.lastIndexOf('*');
      if (star > 0) {
        weight = Number(url.slice(star + 1));
        url = url.slice(0, star);
        if (!isWeight(weight)) throw new Error(`"${item}": weight must be a number in (0, 1000]`);
      }
      if (!isHttpUrl(url)) throw new Error(`"${item}": "${url}" is not an http(s) URL`);
      instances.push({ id: item.slice(0, at), url: url.replace(/\/+$/, ''), weight, zone: undefined });
    }
    if (instances.length === 0) throw new Error(`service "${service}" has no instances`);
    if (new Set(instances.map((i) => i.id)).size !== instances.length) {
      throw new Error(`service "${service}" lists an instance id twice`);
    }
    result[service] = instances;
  }
  return result;
}
