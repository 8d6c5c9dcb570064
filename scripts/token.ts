/**
 * `npm run token -- [subject] [ttlSeconds]`: prints an HS256 JWT the local stack's gateway accepts, signed with the
 * secret `npm run stack` generated in .data/gateway-jwt-secret (default subject "dev", valid one hour).
 * `npm run token -- --internal --aud <service> [--sub <id>] [--admin]`: an internal token for calling a service
 * directly (see scripts/token-internal.ts).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { signJwt } from '../apps/gateway/src/edge/jwt.js';
import { printInternalToken } from './token-internal.js';

if (process.argv.includes('--internal')) {
  await printInternalToken(process.argv.slice(2), path.resolve(import.meta.dirname, '../.data'));
  process.exit(0);
}

const [subject = 'dev', ttl = '3600'] = process.argv.slice(2);
const file = path.resolve(import.meta.dirname, '../.data/gateway-jwt-secret');
const secret = await readFile(file, 'utf8').catch(() => {
  process.stderr.write(`token: ${file} not found; start the stack once (npm run stack) to generate it\n`);
  process.exit(2);
});
const now = Math.floor(Date.now() / 1000);
process.stdout.write(
  `${signJwt({ sub: subject, iat: now, exp: now + Number(ttl) }, { hs256Secret: secret.trim() })}\n`,
);
