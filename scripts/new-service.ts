/**
 * `npm run new:service -- <name>`: generates apps/<name>/, a domain service that starts through runApp, validates its
 * configuration, has health, readiness and metrics, its own database and migration, a saga participant over NATS,
 * registration in the coordinator and a unit spec; and adds it to `npm run stack`, docker/compose.yaml and
 * nest-cli.json. A bad name (not lowercase letters, or an existing app) exits 2 with the reason.
 */
import path from 'node:path';
import { GeneratorError, generateService } from './new-service/generate.js';

const args = process.argv.slice(2).filter((a) => a !== '--');
const root = path.resolve(import.meta.dirname, '..');
if (args.length > 1) {
  process.stderr.write('usage: npm run new:service -- <name>   (one name, lowercase letters)\n');
  process.exit(2);
}
try {
  const result = await generateService(root, args[0], Date.now());
  const out = [
    `Generated ${path.relative(root, result.appDir)}/ (ports ${result.ports.join(', ')}):`,
    ...result.files.map((f) => `  + ${f}`),
    'Edited:',
    ...result.edited.map((f) => `  ~ ${f}`),
    '',
    ...result.notes,
    'Then: npm run typecheck && npm run test:unit, and npm run stack starts it.',
  ];
  process.stdout.write(`${out.join('\n')}\n`);
} catch (error) {
  if (error instanceof GeneratorError) {
    process.stderr.write(`new:service: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
