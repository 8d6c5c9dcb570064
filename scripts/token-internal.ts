/**
 * `npm run token -- --internal --aud <service> [--sub <subject>] [--admin] [--ttl <seconds>]`: prints an internal
 * token, as the gateway mints it, for calling a service directly (scripts, demos, an operator's curl). Signed with
 * the private key `npm run stack` generated in .data/internal-token-ed25519.pem. Default subject "operator" with
 * the admin scope when --admin is given or no --sub; otherwise the customer scope.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  INTERNAL_TOKEN_LIFETIME_SECONDS_MAX,
  INTERNAL_TOKEN_PRIVATE_KEY_FILE,
  mintInternalToken,
  parseInternalTokenPrivateKey,
  SCOPE_ADMIN,
  SCOPE_CUSTOMER,
} from '@concord/platform';

export async function printInternalToken(argv: readonly string[], dataDir: string): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      internal: { type: 'boolean' },
      aud: { type: 'string' },
      sub: { type: 'string' },
      admin: { type: 'boolean' },
      ttl: { type: 'string', default: '60' },
    },
    strict: true,
  });
  const fail = (message: string): never => {
    process.stderr.write(`token: ${message}\n`);
    process.exit(2);
  };
  if (values.aud === undefined || !/^[a-z0-9-]{1,63}$/.test(values.aud)) {
    fail('--aud <service> is required (orders, inventory, payments, orchestrator)');
  }
  const ttlSeconds = Number(values.ttl);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > INTERNAL_TOKEN_LIFETIME_SECONDS_MAX) {
    fail(`--ttl must be 1-${INTERNAL_TOKEN_LIFETIME_SECONDS_MAX} seconds (services refuse longer tokens)`);
  }
  const file = path.join(dataDir, INTERNAL_TOKEN_PRIVATE_KEY_FILE);
  if (!existsSync(file)) fail(`${file} not found; start the stack once (npm run stack) to generate it`);
  const admin = values.admin === true || values.sub === undefined;
  const token = await mintInternalToken(parseInternalTokenPrivateKey(readFileSync(file, 'utf8')), {
    subject: values.sub ?? 'operator',
    audience: values.aud ?? '',
    scopes: admin ? [SCOPE_ADMIN] : [SCOPE_CUSTOMER],
    ttlSeconds,
  });
  process.stdout.write(`${token}\n`);
}
