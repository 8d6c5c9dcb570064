/**
 * deploy/kubernetes as a new user meets it: generate the secrets, render every overlay, and check each object
 * against the Kubernetes API schemas (kubernetes-models, generated from the Kubernetes OpenAPI spec) and the
 * invariants the architecture needs: probes, pinned images, no privileges, every referenced Secret present, a
 * NetworkPolicy per app, the coordinator's StatefulSet shape.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  containersOf,
  type K8sObject,
  podSpecOf,
  renderKustomization,
} from '../../scripts/kustomize/render.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

type EnvVar = { name: string; value?: string };
/** The env of a workload's first container. */
const envOf = (o: K8sObject | undefined): EnvVar[] =>
  (containersOf(o === undefined ? [] : [o])[0] as { env?: EnvVar[] } | undefined)?.env ?? [];
const work = mkdtempSync(path.join(os.tmpdir(), 'concord-k8s-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
cpSync(path.join(ROOT, 'deploy/kubernetes'), work, {
  recursive: true,
  filter: (source) => !source.includes(`${path.sep}secrets`),
});
const generate = (overlay: string, env: Record<string, string> = {}) =>
  execFileSync(process.execPath, [path.join(work, 'generate-secrets.mjs'), overlay, '--dir', work], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
generate('dev');
generate('production', {
  ORDERS_DATABASE_URL: 'postgres://orders:pw@orders-db.example.internal:5432/orders',
  INVENTORY_DATABASE_URL: 'postgres://inventory:pw@inventory-db.example.internal:5432/inventory',
  PAYMENTS_DATABASE_URL: 'postgres://payments:pw@payments-db.example.internal:5432/payments',
  ORCHESTRATOR_DATABASE_URL: 'postgres://orchestrator:pw@orchestrator-db.example.internal:5432/orchestrator',
});

const APPS = ['orders', 'inventory', 'payments', 'orchestrator', 'gateway'];
const STATELESS = ['orders', 'inventory', 'payments', 'gateway'];

async function validate(o: K8sObject): Promise<void> {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : [undefined, o.apiVersion];
  const specifier = `kubernetes-models/${group === undefined ? '' : `${group}/`}${version}`;
  const module = (await import(/* @vite-ignore */ specifier)) as Record<
    string,
    new (data: unknown) => { validate(): void }
  >;
  const Model = module[o.kind];
  if (Model === undefined) throw new Error(`${o.apiVersion} ${o.kind} is not a Kubernetes API kind`);
  new Model(o).validate();
}

describe.each(['dev', 'production'])('deploy/kubernetes/overlays/%s', (overlay) => {
  const objects = renderKustomization(path.join(work, 'overlays', overlay));
  const named = (kind: string, name: string) =>
    objects.find((o) => o.kind === kind && o.metadata.name === name);
  const workloads = objects.filter((o) => podSpecOf(o) !== undefined);

  it('renders objects that are valid against the Kubernetes API schemas', async () => {
    expect(objects.length).toBeGreaterThan(30);
    for (const o of objects) {
      await expect(validate(o), `${o.kind}/${o.metadata.name}`).resolves.toBeUndefined();
    }
    const keys = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(
      objects.filter((o) => o.kind !== 'Namespace').every((o) => o.metadata.namespace === 'concord'),
    ).toBe(true);
  });

  it('gives every container probes, limits, a pinned image and no privileges', () => {
    for (const w of workloads) {
      const spec = podSpecOf(w) ?? {};
      expect(spec.automountServiceAccountToken, w.metadata.name).toBe(false);
      expect((spec.securityContext as { runAsNonRoot?: boolean }).runAsNonRoot, w.metadata.name).toBe(true);
    }
    for (const c of containersOf(workloads)) {
      const name = String(c.name);
      expect(c.readinessProbe, `${name} readiness`).toBeDefined();
      expect(c.livenessProbe, `${name} liveness`).toBeDefined();
      const resources = c.resources as { requests?: object; limits?: object };
      expect(resources.requests, `${name} requests`).toBeDefined();
      expect(resources.limits, `${name} limits`).toBeDefined();
      expect(c.image, name).toMatch(/^[^:@]+(:[\w][\w.-]*|@sha256:[0-9a-f]{64})$/);
      expect(c.image, name).not.toMatch(/:latest$/);
      const security = c.securityContext as Record<string, unknown>;
      expect(security.privileged ?? false, name).toBe(false);
      expect(security.allowPrivilegeEscalation, name).toBe(false);
      expect(security.readOnlyRootFilesystem, name).toBe(true);
      expect(security.runAsNonRoot, name).toBe(true);
      expect((security.capabilities as { drop?: string[] }).drop, name).toEqual(['ALL']);
    }
    for (const app of APPS) {
      const c = containersOf([named('Deployment', app) as K8sObject])[0] as Record<string, unknown>;
      expect((c.readinessProbe as { httpGet: { path: string } }).httpGet.path).toBe('/health/ready');
      expect((c.livenessProbe as { httpGet: { path: string } }).httpGet.path).toBe('/health');
    }
  });

  it('references only Secrets (and keys) that the overlay defines, and holds no secret literal', () => {
    const secrets = new Map(
      objects
        .filter((o) => o.kind === 'Secret')
        .map((o) => [o.metadata.name, Object.keys((o.data as Record<string, string> | undefined) ?? {})]),
    );
    const references: { name: string; key?: string }[] = [];
    for (const w of workloads) {
      const spec = podSpecOf(w) ?? {};
      for (const c of containersOf([w]) as { env?: unknown[]; envFrom?: unknown[] }[]) {
        for (const e of (c.env ?? []) as {
          name: string;
          value?: string;
          valueFrom?: { secretKeyRef?: { name: string; key: string } };
        }[]) {
          if (e.valueFrom?.secretKeyRef) references.push(e.valueFrom.secretKeyRef);
          // Anything that looks like a credential must come from a Secret, never a value.
          if (/SECRET|TOKEN|PASSWORD|DATABASE_URL/.test(e.name))
            expect(e.value, `${w.metadata.name} ${e.name}`).toBeUndefined();
        }
        for (const from of (c.envFrom ?? []) as { secretRef?: { name: string } }[]) {
          if (from.secretRef) references.push({ name: from.secretRef.name });
        }
      }
      for (const v of (spec.volumes ?? []) as { secret?: { secretName: string } }[]) {
        if (v.secret) references.push({ name: v.secret.secretName });
      }
    }
    expect(references.length).toBeGreaterThan(10);
    for (const ref of references) {
      expect(secrets.has(ref.name), `Secret ${ref.name}`).toBe(true);
      if (ref.key !== undefined) expect(secrets.get(ref.name), `${ref.name}/${ref.key}`).toContain(ref.key);
    }
    for (const file of [
      'base/coordinator.yaml',
      'base/gateway.yaml',
      `overlays/${overlay}/kustomization.yaml`,
    ]) {
      expect(readFileSync(path.join(ROOT, 'deploy/kubernetes', file), 'utf8')).not.toMatch(/kind:\s*Secret/);
    }
  });

  it('runs the coordinator as a StatefulSet of 3 with stable identities, WAL volumes and a PDB of 1', () => {
    const sts = named('StatefulSet', 'coordinator') as K8sObject & {
      spec: {
        replicas: number;
        serviceName: string;
        volumeClaimTemplates: unknown[];
        podManagementPolicy: string;
      };
    };
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.volumeClaimTemplates).toHaveLength(1);
    const headless = named('Service', sts.spec.serviceName) as K8sObject & {
      spec: { clusterIP: string; publishNotReadyAddresses: boolean };
    };
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    expect(
      (named('PodDisruptionBudget', 'coordinator')?.spec as { maxUnavailable: number }).maxUnavailable,
    ).toBe(1);
    const env = envOf(sts);
    const peers = env.find((e) => e.name === 'PEERS')?.value ?? '';
    expect(peers.split(',')).toHaveLength(3);
    expect(peers).toContain(`coordinator-2=coordinator-2.${sts.spec.serviceName}:7101`);
  });

  it('runs NATS as a 3-node JetStream cluster', () => {
    const sts = named('StatefulSet', 'nats') as K8sObject & { spec: { replicas: number } };
    expect(sts.spec.replicas).toBe(3);
    const config = String((named('ConfigMap', 'nats-config')?.data as Record<string, string>)['nats.conf']);
    expect(config).toMatch(/jetstream/);
    for (const i of [0, 1, 2]) expect(config).toContain(`nats://nats-${i}.nats-cluster:6222`);
  });

  it('autoscales the stateless services, and registers each pod address in the coordinator', () => {
    for (const app of STATELESS) {
      const hpa = objects.find(
        (o) =>
          o.kind === 'HorizontalPodAutoscaler' &&
          (o.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name === app,
      );
      expect(hpa, `HPA for ${app}`).toBeDefined();
    }
    expect(
      objects.some((o) => o.kind === 'HorizontalPodAutoscaler' && o.metadata.name === 'orchestrator'),
    ).toBe(false);
    for (const app of APPS.filter((a) => a !== 'gateway')) {
      const env = envOf(named('Deployment', app));
      expect(env.find((e) => e.name === 'PUBLIC_URL')?.value).toMatch(/^http:\/\/\$\(POD_IP\):\d+$/);
      expect(env.find((e) => e.name === 'COORDINATOR_URLS')?.value).toContain(
        'coordinator-0.coordinator-peers',
      );
    }
  });

  it('has a NetworkPolicy for every app on top of a default deny', () => {
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    const deny = policies.find((p) => p.metadata.name === 'default-deny')?.spec as {
      podSelector: object;
      policyTypes: string[];
    };
    expect(deny.podSelector).toEqual({});
    expect(deny.policyTypes).toEqual(['Ingress', 'Egress']);
    for (const w of workloads) {
      const labels = (w.spec as { template: { metadata: { labels: Record<string, string> } } }).template
        .metadata.labels;
      const covering = policies.filter((p) => {
        const match = (p.spec as { podSelector: { matchLabels?: Record<string, string> } }).podSelector
          .matchLabels;
        return match !== undefined && Object.entries(match).every(([k, v]) => labels[k] === v);
      });
      expect(covering.length, `NetworkPolicy for ${w.metadata.name}`).toBe(1);
    }
  });
});

describe('deploy/kubernetes secrets and copies', () => {
  it('validation rejects what the API server would (the check is not vacuous)', async () => {
    const bad = structuredClone(
      renderKustomization(path.join(work, 'overlays/dev')).find((o) => o.kind === 'Deployment'),
    ) as K8sObject & { spec: { template: { spec: { containers: { ports: unknown[] }[] } } } };
    bad.spec.template.spec.containers[0]!.ports = [{ containerPort: 'http' }];
    await expect(validate(bad)).rejects.toThrow(/containerPort must be integer/);
    await expect(
      validate({ apiVersion: 'apps/v1', kind: 'Deploymnet', metadata: { name: 'x' } }),
    ).rejects.toThrow(/not a Kubernetes API kind/);
  });

  it('creates in the dev PostgreSQL the databases docker/postgres-init creates, in the same order', () => {
    // The dev overlay keeps one superuser for every service; compose gives each service its own role (its script
    // reads the role passwords from the environment, which the dev overlay does not provide).
    const databases = (file: string) =>
      [...readFileSync(path.join(ROOT, file), 'utf8').matchAll(/^CREATE DATABASE (\w+)/gm)].map((m) => m[1]);
    expect(databases('deploy/kubernetes/overlays/dev/postgres-init/10-create-databases.sql')).toEqual(
      databases('docker/postgres-init/10-service-databases.sql'),
    );
  });

  it('refuses to write production secrets without every database URL', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'concord-k8s-secrets-'));
    try {
      expect(() =>
        execFileSync(
          process.execPath,
          [path.join(ROOT, 'deploy/kubernetes/generate-secrets.mjs'), 'production', '--dir', dir],
          {
            env: { PATH: process.env.PATH },
            stdio: 'pipe',
          },
        ),
      ).toThrow(/ORDERS_DATABASE_URL/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what the renderer does not support instead of ignoring it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'concord-k8s-bad-'));
    try {
      cpSync(path.join(work, 'base'), dir, { recursive: true });
      const file = path.join(dir, 'kustomization.yaml');
      execFileSync('sh', ['-c', `printf 'helmCharts: []\\n' >> ${file}`]);
      expect(() => renderKustomization(dir)).toThrow(/helmCharts is not supported/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
