/**
 * `npm run token -- [subject] [--admin] [--ttl 1h] [--scope "a b"]`: prints an HS256 JWT the local stack's
 * gateway accepts, signed with jose and the secret `npm run stack` generated in .data/gateway-jwt-secret.
 * Default subject "dev", lifetime one hour. `exp` is always set: there is no token that never expires, and a
 * lifetime above the gateway's JWT_MAX_LIFETIME_S (default 24 h) would be refused by it, so it is refused here.
 * `--admin` adds the `admin` scope (products, receipts, deposits and listings across customers).
 *
 * The secret comes from, in order: the JWT_SECRET variable (`JWT_SECRET=... npm run token -- alice`), JWT_SECRET
 * in an env file (compose's: `npm run token -- alice --env-file docker/.env`), or .data/gateway-jwt-secret, which
 * `npm start` generates for the local stack.
 *
 * `npm run token -- --internal --aud <service> [--sub <id>] [--admin]`: an internal token for calling a service
 * directly (see scripts/token-internal.ts).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { printInternalToken } from './token-internal.js';

if (process.argv.includes('--internal')) {
  await printInternalToken(process.argv.slice(2), path.resolve(import.meta.dirname, '../.data'));
  process.exit(0);
}

const MAX_LIFETIME_S = Number(process.env.JWT_MAX_LIFETIME_S ?? 86_400);

function fail(message: string): never {
  process.stderr.write(`token: ${message}\n`);
  process.exit(2);
}

/** "90", "90s", "15m", "1h", "2d" → seconds; anything else (e.g. "never") is refused. */
export function parseTtl(raw: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(raw.trim());
  if (!match) fail(`--ttl "${raw}": use seconds or a number with s, m, h or d (tokens always expire)`);
  const unit = { '': 1, s: 1, m: 60, h: 3_600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  const seconds = Number(match[1]) * unit;
  if (seconds < 1) fail('--ttl must be at least 1 second');
  if (seconds > MAX_LIFETIME_S)
    fail(`--ttl ${raw} exceeds the gateway's maximum lifetime (${MAX_LIFETIME_S} s)`);
  return seconds;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    admin: { type: 'boolean', default: false },
    ttl: { type: 'string', default: '1h' },
    scope: { type: 'string' },
    'env-file': { type: 'string' },
  },
});
if (positionals.length > 2)
  fail('usage: npm run token -- [subject] [--admin] [--ttl 1h] [--scope "a b"] [--env-file docker/.env]');
const [subject = 'dev', legacyTtl] = positionals;
if (subject === '' || subject.length > 256) fail('the subject must be 1 to 256 characters');
const ttlS = parseTtl(legacyTtl ?? values.ttl);
const scopes = new Set((values.scope ?? '').split(' ').filter(Boolean));
if (values.admin) scopes.add('admin');

async function readSecret(envFile: string | undefined): Promise<string> {
  const fromVariable = process.env['JWT_SECRET'];
  if (fromVariable !== undefined && fromVariable !== '') return fromVariable;
  if (envFile !== undefined) {
    const text = await readFile(envFile, 'utf8').catch(() => fail(`${envFile} not found`));
    const line = text.split('\n').find((l) => /^\s*JWT_SECRET\s*=/.test(l));
    const value = line
      ?.slice(line.indexOf('=') + 1)
      .trim()
      .replace(/^(['"])(.*)\1$/, '$2');
    return value === undefined || value === '' ? fail(`no JWT_SECRET value in ${envFile}`) : value;
  }
  const file = path.resolve(import.meta.dirname, '../.data/gateway-jwt-secret');
  return readFile(file, 'utf8').catch(() =>
    fail(`${file} not found; start the stack once (npm start), or give JWT_SECRET or --env-file docker/.env`),
  );
}
const secret = await readSecret(values['env-file']);
const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT(scopes.size > 0 ? { scope: [...scopes].join(' ') } : {})
  .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
  .setSubject(subject)
  .setIssuedAt(now)
  .setExpirationTime(now + ttlS)
  .sign(new TextEncoder().encode(secret.trim()));
process.stdout.write(`${token}\n`);
