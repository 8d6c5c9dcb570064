/**
 * `npm run token -- [subject] [ttlSeconds] [--env-file FILE]`: prints an HS256 JWT the gateway accepts (default
 * subject "dev", valid one hour). The secret comes from, in order:
 *
 *   - the JWT_SECRET variable                    JWT_SECRET=... npm run token -- alice
 *   - JWT_SECRET in an env file (compose's)      npm run token -- alice --env-file docker/.env
 *   - .data/gateway-jwt-secret, which `npm start` generates for the local stack.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { signJwt } from '../apps/gateway/src/edge/jwt.js';

const args = process.argv.slice(2);
const envFileAt = args.indexOf('--env-file');
const envFile = envFileAt === -1 ? undefined : args[envFileAt + 1];
const positional = args.filter((_, i) => envFileAt === -1 || (i !== envFileAt && i !== envFileAt + 1));
const [subject = 'dev', ttl = '3600'] = positional;

const fail = (message: string): never => {
  process.stderr.write(`token: ${message}\n`);
  process.exit(2);
};

async function secret(): Promise<string> {
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
  const text = await readFile(file, 'utf8').catch(() =>
    fail(`${file} not found; start the stack once (npm start), or give JWT_SECRET or --env-file docker/.env`),
  );
  return text.trim();
}

const now = Math.floor(Date.now() / 1000);
process.stdout.write(
  `${signJwt({ sub: subject, iat: now, exp: now + Number(ttl) }, { hs256Secret: await secret() })}\n`,
);
