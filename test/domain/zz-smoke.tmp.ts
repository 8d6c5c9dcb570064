import { startDomainStack } from './domain-stack.js';
const s = await startDomainStack({ orchestrator: true });
try {
  const H = { 'content-type': 'application/json', authorization: `Bearer ${s.apiToken}` };
  const show = async (label: string, r: Response) => console.log(label, r.status, (await r.text()).slice(0, 400));
  await show('create product', await fetch(`${s.urls.inventory}/v1/products`, { method: 'POST', headers: H, body: JSON.stringify({ sku: 'A1', name: 'Apple', priceCents: 150, stock: 10 }) }));
  await show('no auth', await fetch(`${s.urls.inventory}/v1/products`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }));
  await show('bad body', await fetch(`${s.urls.inventory}/v1/products`, { method: 'POST', headers: H, body: JSON.stringify({ sku: 'A 1', priceCents: -1 }) }));
  await show('get', await fetch(`${s.urls.inventory}/v1/products/A1`));
  await show('get', await fetch(`${s.urls.inventory}/v1/products/A1`));
  await show('account', await fetch(`${s.urls.payments}/v1/accounts`, { method: 'POST', headers: H, body: JSON.stringify({ customerId: 'c1' }) }));
  await show('deposit', await fetch(`${s.urls.payments}/v1/accounts/c1/deposits`, { method: 'POST', headers: H, body: JSON.stringify({ amountCents: 1000 }) }));
  await show('order saga', await fetch(`${s.urls.orders}/v1/orders?wait=true`, { method: 'POST', headers: H, body: JSON.stringify({ customerId: 'c1', items: [{ sku: 'A1', qty: 2 }], mode: 'saga' }) }));
  await show('order 2pc', await fetch(`${s.urls.orders}/v1/orders?wait=true`, { method: 'POST', headers: H, body: JSON.stringify({ customerId: 'c1', items: [{ sku: 'A1', qty: 2 }], mode: '2pc' }) }));
  await show('order poor', await fetch(`${s.urls.orders}/v1/orders?wait=true`, { method: 'POST', headers: H, body: JSON.stringify({ customerId: 'c1', items: [{ sku: 'A1', qty: 5 }], mode: 'saga' }) }));
  await show('list', await fetch(`${s.urls.orders}/v1/orders?customerId=c1&limit=2`));
  await show('product', await fetch(`${s.urls.inventory}/v1/products/A1`));
  await show('account', await fetch(`${s.urls.payments}/v1/accounts/c1`));
  await show('docs', await fetch(`${s.urls.orders}/docs-json`));
  const m = await (await fetch(`${s.urls.inventory}/metrics`)).text();
  console.log(m.split('\n').filter((l) => l.startsWith('cache_')).join('\n'));
} catch (e) { console.error(e); s.processes.printLogs(undefined, 40); }
finally { await s.stop(); }
