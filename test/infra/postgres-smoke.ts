/*
 * Fixture for libs/infra/src/postgres.int.ts: the path a normal (non-root) user takes. Started by the test as an
 * unprivileged user, it runs a private PostgreSQL directly (no user switch), commits a prepared transaction, stops
 * it, and prints what the test checks as one JSON line.
 */
import fs from 'node:fs';

import pg from 'pg';

import { startPostgres } from '../../libs/infra/src/index.js';

const server = await startPostgres({ databases: ['smoke'] });
const status = fs.readFileSync(`/proc/${server.process.pid}/status`, 'utf8');
const serverUid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
const client = new pg.Client({ connectionString: server.url('smoke') });
await client.connect();
await client.query('CREATE TABLE t (v integer)');
await client.query('BEGIN');
await client.query('INSERT INTO t VALUES (1)');
await client.query(`PREPARE TRANSACTION 'smoke'`);
await client.query(`COMMIT PREPARED 'smoke'`);
const rows = await client.query<{ count: string }>('SELECT count(*) AS count FROM t');
await client.end();
await server.stop();
process.stdout.write(
  `${JSON.stringify({
    uid: process.getuid?.(),
    serverUid,
    rows: Number(rows.rows[0]?.count),
    dataDirRemoved: !fs.existsSync(server.dataDir),
  })}\n`,
);
