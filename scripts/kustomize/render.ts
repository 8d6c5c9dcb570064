/**
 * A small Kustomize renderer: the subset of `kustomize build` that deploy/kubernetes uses, so the overlays can be
 * rendered and validated in CI without the kustomize binary (no maintained JS port exists; see
 * docs/adr/0018-own-kustomize-subset-renderer.md). Anything outside the subset is refused with an error naming
 * the field, never ignored, so what this renders is what `kubectl apply -k` applies.
 *
 * Supported: `resources` (YAML files, directories with a kustomization), `namespace`, `labels` (pairs, on
 * metadata only), `images` (newName, newTag, digest), `secretGenerator` and `configMapGenerator` (`envs`, `files`)
 * with `generatorOptions.disableNameSuffixHash: true`, and `patches` holding inline JSON 6902 operations with a
 * `target` (kind, name).
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
};

const KNOWN_FIELDS = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'labels',
  'resources',
  'images',
  'generatorOptions',
  'secretGenerator',
  'configMapGenerator',
  'patches',
]);

/** Kinds without a namespace among those Concord uses (kustomize leaves them alone too). */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'CustomResourceDefinition',
]);

interface Kustomization {
  namespace?: string;
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }[];
  resources?: string[];
  images?: { name: string; newName?: string; newTag?: string; digest?: string }[];
  generatorOptions?: { disableNameSuffixHash?: boolean };
  secretGenerator?: Generator[];
  configMapGenerator?: Generator[];
  patches?: { target?: { kind?: string; name?: string }; patch?: string; path?: string }[];
}

interface Generator {
  name: string;
  type?: string;
  envs?: string[];
  files?: string[];
  literals?: string[];
}

/** Renders the kustomization in `dir` (an overlay or a base) into its objects, in resource order. */
export function renderKustomization(dir: string): K8sObject[] {
  const file = path.join(dir, 'kustomization.yaml');
  const k = parseYaml(readFileSync(file, 'utf8')) as Kustomization & Record<string, unknown>;
  for (const field of Object.keys(k)) {
    if (!KNOWN_FIELDS.has(field)) throw new Error(`${file}: ${field} is not supported by this renderer`);
  }
  const objects: K8sObject[] = [];
  for (const resource of k.resources ?? []) {
    const target = path.resolve(dir, resource);
    if (statSync(target).isDirectory()) objects.push(...renderKustomization(target));
    else objects.push(...readObjects(target));
  }
  const generated = [
    ...(k.secretGenerator ?? []).map((g) => generate(dir, 'Secret', g, k)),
    ...(k.configMapGenerator ?? []).map((g) => generate(dir, 'ConfigMap', g, k)),
  ];
  objects.push(...generated);

  for (const patch of k.patches ?? []) applyPatch(dir, objects, patch);
  for (const image of k.images ?? []) setImage(objects, image);
  for (const label of k.labels ?? []) {
    if (label.includeSelectors || label.includeTemplates) {
      throw new Error(`${file}: labels with includeSelectors/includeTemplates are not supported`);
    }
    for (const o of objects) o.metadata.labels = { ...o.metadata.labels, ...label.pairs };
  }
  if (k.namespace !== undefined) {
    for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
  }
  return objects;
}

function readObjects(file: string): K8sObject[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const objects: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as K8sObject | null;
    if (value === null) continue;
    if (typeof value.kind !== 'string' || typeof value.metadata?.name !== 'string') {
      throw new Error(`${file}: every document needs kind and metadata.name`);
    }
    objects.push(value);
  }
  return objects;
}

function generate(dir: string, kind: 'Secret' | 'ConfigMap', g: Generator, k: Kustomization): K8sObject {
  if (k.generatorOptions?.disableNameSuffixHash !== true) {
    throw new Error(
      `${dir}: generators need generatorOptions.disableNameSuffixHash: true (hash suffixes unsupported)`,
    );
  }
  if (kind === 'Secret' && g.literals !== undefined) {
    throw new Error(
      `${dir}: secretGenerator ${g.name} has literals; secrets come from files, never the manifests`,
    );
  }
  const entries: Record<string, string> = {};
  for (const env of g.envs ?? []) {
    const file = path.resolve(dir, env);
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('#')) continue;
      const eq = trimmed.indexOf('=');
      if (eq <= 0) throw new Error(`${file}: "${trimmed.slice(0, 20)}..." is not KEY=value`);
      entries[trimmed.slice(0, eq)] = trimmed.slice(eq + 1);
    }
  }
  for (const spec of g.files ?? []) {
    const eq = spec.indexOf('=');
    const [key, source] = eq > 0 ? [spec.slice(0, eq), spec.slice(eq + 1)] : [path.basename(spec), spec];
    const file = path.resolve(dir, source);
    if (path.relative(dir, file).startsWith('..')) {
      throw new Error(`${dir}: ${source} is outside the kustomization (kustomize refuses to load it)`);
    }
    entries[key] = readFileSync(file, 'utf8');
  }
  for (const literal of g.literals ?? []) {
    const eq = literal.indexOf('=');
    entries[literal.slice(0, eq)] = literal.slice(eq + 1);
  }
  const metadata = { name: g.name };
  if (kind === 'ConfigMap') return { apiVersion: 'v1', kind, metadata, data: entries };
  const data = Object.fromEntries(
    Object.entries(entries).map(([key, v]) => [key, Buffer.from(v).toString('base64')]),
  );
  return { apiVersion: 'v1', kind, metadata, type: g.type ?? 'Opaque', data };
}

function applyPatch(
  dir: string,
  objects: K8sObject[],
  patch: NonNullable<Kustomization['patches']>[number],
): void {
  if (patch.path !== undefined || patch.patch === undefined) {
    throw new Error(`${dir}: only inline JSON 6902 patches (patch: with a target) are supported`);
  }
  const ops = parseYaml(patch.patch) as unknown;
  if (!Array.isArray(ops)) throw new Error(`${dir}: a patch must be a list of JSON 6902 operations`);
  const targets = objects.filter(
    (o) =>
      (patch.target?.kind === undefined || o.kind === patch.target.kind) &&
      (patch.target?.name === undefined || o.metadata.name === patch.target.name),
  );
  if (targets.length === 0)
    throw new Error(`${dir}: patch target ${JSON.stringify(patch.target)} matches nothing`);
  for (const target of targets) {
    for (const op of ops as { op: string; path: string; value?: unknown }[]) applyOperation(target, op, dir);
  }
}

function applyOperation(root: unknown, op: { op: string; path: string; value?: unknown }, dir: string): void {
  const parts = op.path
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = parts.pop();
  if (last === undefined) throw new Error(`${dir}: patch path ${op.path} is empty`);
  let node = root as Record<string, unknown> | unknown[];
  for (const part of parts) {
    const next = Array.isArray(node) ? node[Number(part)] : node[part];
    if (typeof next !== 'object' || next === null)
      throw new Error(`${dir}: patch path ${op.path} does not exist`);
    node = next as Record<string, unknown> | unknown[];
  }
  const clone = structuredClone(op.value);
  if (Array.isArray(node)) {
    const index = last === '-' ? node.length : Number(last);
    if (op.op === 'add') node.splice(index, 0, clone);
    else if (op.op === 'replace' && index < node.length) node[index] = clone;
    else if (op.op === 'remove' && index < node.length) node.splice(index, 1);
    else throw new Error(`${dir}: cannot ${op.op} at ${op.path}`);
    return;
  }
  if (op.op === 'add') node[last] = clone;
  else if (op.op === 'replace' && last in node) node[last] = clone;
  else if (op.op === 'remove' && last in node) delete node[last];
  else
    throw new Error(
      `${dir}: cannot ${op.op} at ${op.path} (supported: add, replace, remove on existing paths)`,
    );
}

function setImage(objects: K8sObject[], image: NonNullable<Kustomization['images']>[number]): void {
  for (const container of containersOf(objects)) {
    const ref = container.image;
    const name = ref.replace(/@.*$/, '').replace(/:[^/:]*$/, '');
    if (name !== image.name) continue;
    const tag =
      image.digest !== undefined
        ? `@${image.digest}`
        : image.newTag !== undefined
          ? `:${image.newTag}`
          : ref.slice(name.length);
    container.image = `${image.newName ?? name}${tag}`;
  }
}

/** Every container (init containers included) of every workload, for rewriting and checking. */
export function containersOf(objects: readonly K8sObject[]): { image: string; [k: string]: unknown }[] {
  const out: { image: string; [k: string]: unknown }[] = [];
  for (const o of objects) {
    const spec = podSpecOf(o);
    if (spec === undefined) continue;
    for (const list of [spec.containers, spec.initContainers]) {
      if (Array.isArray(list)) out.push(...(list as { image: string }[]));
    }
  }
  return out;
}

/** The pod spec of a workload (Deployment, StatefulSet, DaemonSet, Job, Pod), or undefined. */
export function podSpecOf(o: K8sObject): Record<string, unknown> | undefined {
  if (o.kind === 'Pod') return o.spec as Record<string, unknown>;
  const template = (o.spec as { template?: { spec?: Record<string, unknown> } } | undefined)?.template;
  return template?.spec;
}
