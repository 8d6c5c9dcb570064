import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { format, resolveConfig } from 'prettier';
import { parseDocument } from 'yaml';
import type { ServiceTopology } from '@concord/contracts';
import { composeNatsConfig } from '../docker/nats-config.js';

/*
 * `npm run new:service -- <name>`: a new domain service from the templates beside this file, wired into the
 * topology (`npm run stack`, which gives every service of the topology its NATS user and PostgreSQL role),
 * docker/compose.yaml (its instances, its secrets on the NATS nodes, PostgreSQL and the coordinators), the database
 * init script (its role and database), docker/nats/nats-server.conf (its NATS user), docker/.env.example,
 * nest-cli.json and the configuration reference. The edits are pure text functions (tested); `generateService` applies them to a repository root.
 */

export class GeneratorError extends Error {
  override readonly name = 'GeneratorError';
}

const TEMPLATES = path.join(import.meta.dirname, 'templates');
const NAME_LENGTH_MAX = 30;

/** Why `name` cannot be a new service, or undefined when it can (pure). */
export function nameProblem(name: string | undefined, existingApps: readonly string[]): string | undefined {
  if (name === undefined || name.length === 0)
    return 'a service name is required, e.g. npm run new:service -- billing';
  if (!/^[a-z]+$/.test(name))
    return `"${name}" is not a valid service name: use lowercase letters only (a-z)`;
  if (name.length > NAME_LENGTH_MAX) return `"${name}" is longer than ${NAME_LENGTH_MAX} letters`;
  if (existingApps.includes(name)) return `apps/${name} already exists: choose another name`;
  return undefined;
}

/** The HTTP ports of every service in topology.ts's DOMAIN_SERVICES (pure). */
export function topologyPorts(topologySource: string): number[] {
  const ports: number[] = [];
  for (const match of topologySource.matchAll(/ports:\s*\[([^\]]*)\]/g)) {
    for (const p of (match[1] ?? '').split(',')) if (p.trim() !== '') ports.push(Number(p.trim()));
  }
  return ports;
}

/** The next free block of a hundred: after 8401–8402 comes 8501–8502 (pure). */
export function nextPortBlock(usedPorts: readonly number[], instances = 2): number[] {
  const highest = Math.max(8000, ...usedPorts);
  const base = (Math.floor(highest / 100) + 1) * 100;
  return Array.from({ length: instances }, (_, i) => base + 1 + i);
}

/** Adds the service at the end of DOMAIN_SERVICES (pure). */
export function addToTopology(source: string, name: string, ports: readonly number[]): string {
  const start = source.indexOf('export const DOMAIN_SERVICES');
  const end = start < 0 ? -1 : source.indexOf('\n];', start);
  if (end < 0) throw new GeneratorError('libs/contracts/src/topology.ts: DOMAIN_SERVICES not found');
  const entry = `\n  { app: '${name}', ports: [${ports.join(', ')}], database: true },`;
  return `${source.slice(0, end)}${entry}${source.slice(end)}`;
}

/** Two instances of the service, mirroring payments, and the gateway waiting for them (pure). */
export function addToCompose(source: string, name: string, ports: readonly number[]): string {
  const NAME = name.toUpperCase();
  // Its secrets where the others' are: its NATS password on every NATS node, its role's password for PostgreSQL's
  // init script, its coordinator token in the coordinators' SERVICE_TOKENS.
  source = insertAfterLast(
    source,
    /^ {4}NATS_PASSWORD_[A-Z]+: .*$/gm,
    `    NATS_PASSWORD_${NAME}: ${required(`NATS_PASSWORD_${NAME}`)}`,
    "the NATS nodes' passwords (x-nats-node)",
  );
  source = insertAfterLast(
    source,
    /^ {6}POSTGRES_PASSWORD_[A-Z]+: .*$/gm,
    `      POSTGRES_PASSWORD_${NAME}: ${required(`POSTGRES_PASSWORD_${NAME}`)}`,
    "PostgreSQL's role passwords",
  );
  source = source.replace(
    /^( {2}SERVICE_TOKENS: .*)$/m,
    (line) => `${line},${name}=${required(`COORDINATOR_TOKEN_${NAME}`)}`,
  );
  const gatewayMarker = source.indexOf('\n  # Started last');
  const gatewayAt = gatewayMarker >= 0 ? gatewayMarker : source.indexOf('\n  gateway:\n');
  if (gatewayAt < 0) throw new GeneratorError('docker/compose.yaml: the gateway service was not found');
  const blocks = ports
    .map((port, i) =>
      [
        `  ${name}-${i + 1}:`,
        '    <<: *concord-app',
        '    environment:',
        '      <<: *service-env',
        `      APP: ${name}`,
        `      PORT: '${port}'`,
        `      INSTANCE_ID: ${name}-${i + 1}`,
        `      COORDINATOR_TOKEN: ${required(`COORDINATOR_TOKEN_${NAME}`)}`,
        `      PUBLIC_URL: http://${name}-${i + 1}:${port}`,
        `      DATABASE_URL: postgres://${name}:${required(`POSTGRES_PASSWORD_${NAME}`)}@postgres:5432/${name}`,
        `      NATS_USER: ${name}`,
        `      NATS_PASSWORD: ${required(`NATS_PASSWORD_${NAME}`)}`,
        '    depends_on: *service-depends-on',
        '',
      ].join('\n'),
    )
    .join('\n');
  let edited = `${source.slice(0, gatewayAt + 1)}${blocks}${source.slice(gatewayAt)}`;

  // The gateway's depends_on list ends where the top-level volumes begin.
  const gatewayStart = edited.indexOf('\n  gateway:\n');
  const volumesAt = edited.indexOf('\nvolumes:', gatewayStart);
  if (gatewayStart >= 0 && volumesAt > gatewayStart) {
    const head = edited.slice(0, volumesAt).replace(/\n+$/, '');
    const tail = edited.slice(head.length);
    const dependencies = ports
      .map((_, i) => `\n      ${name}-${i + 1}:\n        condition: service_healthy`)
      .join('');
    edited = `${head}${dependencies}${tail}`;
  }
  const document = parseDocument(edited);
  if (document.errors.length > 0) {
    throw new GeneratorError(
      `docker/compose.yaml would not parse after the edit: ${document.errors[0]?.message ?? ''}`,
    );
  }
  return edited;
}

/** `${VAR:?...}` as compose.yaml writes a required secret. */
function required(variable: string): string {
  return `\${${variable}:?set ${variable} in docker/.env (see docker/.env.example)}`;
}

/** `line` after the last line `pattern` matches (pure). */
function insertAfterLast(source: string, pattern: RegExp, line: string, what: string): string {
  const matches = [...source.matchAll(pattern)];
  const last = matches.at(-1);
  if (last?.index === undefined) throw new GeneratorError(`docker/compose.yaml: ${what} not found`);
  const at = last.index + last[0].length;
  return `${source.slice(0, at)}\n${line}${source.slice(at)}`;
}

/**
 * The service's role and database, before the orchestrator's, which must stay last (compose's healthcheck connects
 * to it to tell that the script ran) (pure).
 */
export function addToInitSql(source: string, name: string): string {
  const variable = `POSTGRES_PASSWORD_${name.toUpperCase()}`;
  const block = [
    `-- ${name}`,
    "\\set password ''",
    `\\getenv password ${variable}`,
    `SELECT pg_temp.service_role('${name}', '${variable}', :'password');`,
    `CREATE DATABASE ${name} OWNER ${name};`,
    `REVOKE ALL ON DATABASE ${name} FROM PUBLIC;`,
    '',
    '',
  ].join('\n');
  const last = source.indexOf('-- orchestrator\n');
  if (last < 0) throw new GeneratorError('docker/postgres-init: the orchestrator block was not found');
  return `${source.slice(0, last)}${block}${source.slice(last)}`;
}

/** The service's three secrets in docker/.env.example, empty, beside the others of their kind (pure). */
export function addToEnvExample(source: string, name: string): string {
  const NAME = name.toUpperCase();
  let edited = source;
  for (const prefix of ['POSTGRES_PASSWORD_', 'NATS_PASSWORD_', 'COORDINATOR_TOKEN_']) {
    const lines = [...edited.matchAll(new RegExp(`^${prefix}[A-Z]+=$`, 'gm'))];
    const last = lines.at(-1);
    const line = `${prefix}${NAME}=`;
    if (last?.index === undefined) edited = `${edited.replace(/\n*$/, '\n')}${line}\n`;
    else {
      const at = last.index + last[0].length;
      edited = `${edited.slice(0, at)}\n${line}${edited.slice(at)}`;
    }
  }
  return edited;
}

/** The apps of DOMAIN_SERVICES in topology.ts's text (pure). */
export function topologyServices(topologySource: string): ServiceTopology[] {
  return [
    ...topologySource.matchAll(
      /\{\s*app:\s*'([a-z]+)',\s*ports:\s*\[([^\]]*)\],\s*database:\s*(true|false)/g,
    ),
  ].map((m) => ({
    app: m[1] ?? '',
    ports: (m[2] ?? '')
      .split(',')
      .filter((p) => p.trim() !== '')
      .map((p) => Number(p.trim())),
    database: m[3] === 'true',
  }));
}

/** A nest-cli.json project for the app (pure). */
export function addToNestCli(source: string, name: string): string {
  const config = JSON.parse(source) as { projects?: Record<string, unknown> };
  const projects = config.projects ?? {};
  const apps = Object.entries(projects).filter(([, p]) => (p as { type?: string }).type === 'application');
  const others = Object.entries(projects).filter(([, p]) => (p as { type?: string }).type !== 'application');
  const project = {
    type: 'application',
    root: `apps/${name}`,
    entryFile: 'main',
    sourceRoot: `apps/${name}/src`,
  };
  config.projects = Object.fromEntries([...apps, [name, project], ...others]);
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** The app's config schema in the generated configuration reference (pure; unchanged if the anchors moved). */
export function addToConfigReference(source: string, name: string): string {
  const importLine = `import { ${name}ConfigSchema } from '../../apps/${name}/src/config.js';\n`;
  const lastImport = source.lastIndexOf("from '../../apps/");
  const entryAnchor = source.indexOf("  ['payments', paymentsConfigSchema],\n");
  if (lastImport < 0 || entryAnchor < 0) return source;
  const afterImport = source.indexOf('\n', lastImport) + 1;
  const entry = `  ['${name}', ${name}ConfigSchema],\n`;
  const entryAt = entryAnchor + "  ['payments', paymentsConfigSchema],\n".length;
  return `${source.slice(0, afterImport)}${importLine}${source.slice(afterImport, entryAt)}${entry}${source.slice(entryAt)}`;
}

/** Fills a template's placeholders (pure). */
export function render(template: string, name: string, ports: readonly number[], timestamp: number): string {
  const pascal = `${name.charAt(0).toUpperCase()}${name.slice(1)}`;
  return template
    .replaceAll('__NAME__', name.toUpperCase())
    .replaceAll('__Name__', pascal)
    .replaceAll('__name__', name)
    .replaceAll('__port1__', String(ports[0]))
    .replaceAll('__port2__', String(ports[1]))
    .replaceAll('__timestamp__', String(timestamp));
}

function templateFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    return statSync(full).isDirectory() ? templateFiles(full) : [full];
  });
}

export interface Generated {
  readonly appDir: string;
  readonly files: readonly string[];
  readonly ports: readonly number[];
  readonly edited: readonly string[];
  readonly notes: readonly string[];
}

/** Formats with the repository's prettier settings, so the generated tree passes `npm run lint` as it is. */
async function pretty(file: string, text: string): Promise<string> {
  const options = (await resolveConfig(file)) ?? {};
  return format(text, { ...options, filepath: file });
}

/** Writes apps/<name>/ and edits the shared files under `root`. Validates first; writes nothing on a bad name. */
export async function generateService(
  root: string,
  name: string | undefined,
  timestamp: number,
): Promise<Generated> {
  const appsDir = path.join(root, 'apps');
  const existing = existsSync(appsDir) ? readdirSync(appsDir) : [];
  const problem = nameProblem(name, existing);
  if (problem !== undefined || name === undefined) throw new GeneratorError(problem ?? 'no name');

  const topologyFile = path.join(root, 'libs/contracts/src/topology.ts');
  const topology = readFileSync(topologyFile, 'utf8');
  const ports = nextPortBlock(topologyPorts(topology));

  // Compute every edit before writing anything, so a failure leaves the tree as it was.
  const edits: [string, string][] = [
    ['libs/contracts/src/topology.ts', addToTopology(topology, name, ports)],
  ];
  const optional = (file: string, edit: (source: string) => string): void => {
    const full = path.join(root, file);
    if (existsSync(full)) edits.push([file, edit(readFileSync(full, 'utf8'))]);
  };
  optional('docker/compose.yaml', (s) => addToCompose(s, name, ports));
  optional('docker/postgres-init/10-service-databases.sql', (s) => addToInitSql(s, name));
  optional('docker/.env.example', (s) => addToEnvExample(s, name));
  // Its NATS user in compose's nats-server configuration, from the topology it is about to have.
  optional('docker/nats/nats-server.conf', () =>
    composeNatsConfig(topologyServices(addToTopology(topology, name, ports))),
  );
  optional('nest-cli.json', (s) => addToNestCli(s, name));
  optional('scripts/docs/config-reference.ts', (s) => addToConfigReference(s, name));

  const formattedEdits = await Promise.all(
    edits.map(async ([file, text]): Promise<[string, string]> => [
      file,
      /\.(sql|conf)$|\.env\.example$/.test(file) ? text : await pretty(path.join(root, file), text),
    ]),
  );

  const appDir = path.join(appsDir, name);
  const files: string[] = [];
  for (const template of templateFiles(TEMPLATES)) {
    const relative = render(path.relative(TEMPLATES, template), name, ports, timestamp).replace(
      /\.tmpl$/,
      '',
    );
    const target = path.join(appDir, relative);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(
      target,
      await pretty(target, render(readFileSync(template, 'utf8'), name, ports, timestamp)),
    );
    files.push(path.relative(root, target));
  }
  const edited: string[] = [];
  for (const [file, text] of formattedEdits) {
    const full = path.join(root, file);
    if (readFileSync(full, 'utf8') === text) continue;
    writeFileSync(full, text);
    edited.push(file);
  }
  const notes = [
    `Run npm run docs:config to add ${name}'s settings to docs/operations.md.`,
    `docs/extending.md explains how to give ${name} a place in a saga.`,
  ];
  return { appDir, files, ports, edited, notes };
}
