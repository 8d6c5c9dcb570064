import { Pool } from 'undici';
const [url, path, conns, ms] = process.argv.slice(2);
const pool = new Pool(url, { connections: Number(conns) });
let n = 0, running = true;
setTimeout(() => (running = false), Number(ms));
await Promise.all(Array.from({ length: Number(conns) }, async () => {
  while (running) { const r = await pool.request({ path, method: 'GET', headers: { 'x-hash-key': 'k' + Math.floor(Math.random() * 10000) } }); await r.body.dump(); n++; }
}));
console.log('rps', n / (Number(ms) / 1000));
await pool.close();
