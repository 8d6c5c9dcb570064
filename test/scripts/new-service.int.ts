import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { generateService } from '../../scripts/new-service/generate.js';
import { copyRepoForGenerator, REPO_ROOT } from './repo-copy.js';

const run = promisify(execFile);

describe('a generated service type-checks (strict, NodeNext) against the libraries', () => {
  const repo = copyRepoForGenerator();
  afterAll(() => repo.remove());

  it('npm run new:service -- billing, then tsc on apps/billing', async () => {
    await generateService(repo.root, 'billing', 1767400000000);
    writeFileSync(
      path.join(repo.root, 'tsconfig.generated.json'),
      JSON.stringify({
        extends: './tsconfig.json',
        compilerOptions: { incremental: false, noEmit: true },
        include: ['apps/billing/**/*.ts', 'libs/contracts/src/topology.ts'],
      }),
    );
    const tsc = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.generated.json'], {
      cwd: repo.root,
    }).then(
      () => ({ code: 0, output: '' }),
      (error: { code?: number; stdout?: string }) => ({ code: error.code ?? 1, output: error.stdout ?? '' }),
    );
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
    // It type-checks on the participant service skeleton, not on a copy of it.
    const source = (file: string) => readFileSync(path.join(repo.root, 'apps/billing/src', file), 'utf8');
    expect(source('billing.module.ts')).toContain('participantService({ handlers: BillingCommands');
    expect(source('billing.commands.ts')).toContain("from '@concord/saga'");
    expect(source('billing.repository.ts')).toContain('extends ParticipantRepository');
    expect(existsSync(path.join(repo.root, 'apps/billing/src/billing.nats.controller.ts'))).toBe(false);
  });
});
