import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Where `npm run stack` keeps the gateway's signing pair (the private half never leaves the data dir). */
export const INTERNAL_TOKEN_PRIVATE_KEY_FILE = 'internal-token-ed25519.pem';
export const INTERNAL_TOKEN_PUBLIC_KEY_FILE = 'internal-token-ed25519.pub.pem';

export interface InternalTokenKeyPair {
  /** PKCS#8 PEM. */
  readonly privateKeyPem: string;
  /** SPKI PEM: the value of INTERNAL_TOKEN_PUBLIC_KEY. */
  readonly publicKeyPem: string;
}

export function generateInternalTokenKeyPair(): InternalTokenKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/**
 * The pair under `dataDir` (`internal-token-ed25519.pem`, mode 0600, and `.pub.pem`), generated at first use.
 * Rotation: delete both files and restart the stack (every service reads the public key at boot).
 */
export function ensureInternalTokenKeyPair(dataDir: string): InternalTokenKeyPair {
  const privateFile = path.join(dataDir, INTERNAL_TOKEN_PRIVATE_KEY_FILE);
  const publicFile = path.join(dataDir, INTERNAL_TOKEN_PUBLIC_KEY_FILE);
  if (fs.existsSync(privateFile) && fs.existsSync(publicFile)) {
    return {
      privateKeyPem: fs.readFileSync(privateFile, 'utf8'),
      publicKeyPem: fs.readFileSync(publicFile, 'utf8'),
    };
  }
  const pair = generateInternalTokenKeyPair();
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(privateFile, pair.privateKeyPem, { mode: 0o600 });
  fs.writeFileSync(publicFile, pair.publicKeyPem, { mode: 0o644 });
  return pair;
}
