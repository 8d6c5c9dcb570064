// The Concord console: reads the live picture from /console/api/events (Server-Sent Events over fetch, so the
// admin token travels in a header, never in a URL) and redraws it. No framework, no build step.

const TOKEN_KEY = 'concord-console-token';
const STALE_AFTER_MS = 3000;

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
};
const svgEl = (tag, attrs = {}) => {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
};
const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });

let lastMessageAt = 0;
let abort = null;

function showLogin(error = '') {
  abort?.abort();
  $('live').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = error;
  setStatus('Not connected', '');
  $('token').focus();
}

function setStatus(text, cls) {
  const s = $('status');
  s.textContent = text;
  s.className = cls;
}

async function connect(token) {
  abort?.abort();
  abort = new AbortController();
  let response;
  try {
    response = await fetch('/console/api/events', {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: abort.signal,
    });
  } catch {
    setStatus('Console unreachable; retrying…', 'stale');
    setTimeout(() => connect(token), 1000);
    return;
  }
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin('That token was refused.');
    return;
  }
  if (!response.ok) {
    setStatus(`Console answered ${response.status}; retrying…`, 'stale');
    setTimeout(() => connect(token), 1000);
    return;
  }
  $('login').hidden = true;
  $('live').hidden = false;
  void refreshSingletons();
  if ($('paxos-timeline').children.length === 0) void runPaxos();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        handleFrame(frame);
      }
    }
  } catch (error) {
    if (error.name === 'AbortError') return;
  }
  setStatus('Stream ended; reconnecting…', 'stale');
  setTimeout(() => connect(token), 500);
}

function handleFrame(frame) {
  lastMessageAt = Date.now();
  let event = 'message';
  let data = '';
  for (const line of frame.split('\n')) {
    if (line.startsWith(':')) continue; // heartbeat
    if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  setStatus(`Live · updated ${clock(lastMessageAt)}`, 'live');
  if (data === '') return;
  const message = JSON.parse(data);
  if (event === 'hello') {
    $('events').replaceChildren();
    renderEvents(message.events);
    renderTraces(message.jaegerUrl);
  } else {
    renderEvents(message.events);
  }
  if (message.snapshot) render(message.snapshot, message.jaegerUrl);
}

function render(snapshot) {
  renderCluster(snapshot.cluster);
  renderRings(snapshot.rings, snapshot.ringsError);
  renderTransactions(snapshot.transactions, snapshot.transactionsError);
}

function renderCluster(cluster) {
  const up = cluster.members.filter((m) => m.up).length;
  $('cluster-summary').replaceChildren(
    cluster.leader === null
      ? el('strong', { class: 'error' }, 'No leader: writes and linearizable reads are refused (503).')
      : el(
          'span',
          {},
          'Leader ',
          el('strong', { class: 'leader', 'data-testid': 'leader' }, cluster.leader),
          ` · term ${cluster.term} · ${up} of ${cluster.members.length} members answering`,
        ),
  );
  const rows = cluster.members.map((m) =>
    el(
      'tr',
      { 'data-member': m.id, 'data-role': m.role },
      el('th', { scope: 'row' }, m.id),
      el('td', { class: m.role === 'leader' ? 'leader' : m.role }, m.role),
      el('td', {}, m.term ?? '–'),
      el('td', {}, m.commitIndex ?? '–'),
      el('td', {}, m.appliedIndex ?? '–'),
      el('td', { class: m.up ? 'up' : 'down' }, m.up ? 'up' : `down${m.error ? ` (${m.error})` : ''}`),
    ),
  );
  $('cluster').tBodies[0].replaceChildren(...rows);
}

const STATE_COLOR = { ok: '#1b7f3b', ejected: '#b3261e', open: '#b3261e', halfOpen: '#a05a00' };
function instanceState(i) {
  if (i.ejected) return 'ejected';
  if (i.breaker === 'open') return 'open';
  if (i.breaker === 'halfOpen') return 'halfOpen';
  return i.healthy ? 'ok' : 'ejected';
}

function ringSvg(service) {
  // Each instance's arc is its share of the key space; its colour is its state.
  const size = 96;
  const r = 38;
  const svg = svgEl('svg', { width: size, height: size, viewBox: `0 0 ${size} ${size}`, role: 'img' });
  svg.setAttribute('aria-label', `${service.service} ring`);
  const c = 2 * Math.PI * r;
  let offset = 0;
  for (const i of service.instances) {
    const length = Math.max(0, i.keyShare) * c;
    svg.append(
      svgEl('circle', {
        cx: size / 2,
        cy: size / 2,
        r,
        fill: 'none',
        stroke: STATE_COLOR[instanceState(i)] ?? '#888',
        'stroke-width': 14,
        'stroke-dasharray': `${Math.max(0, length - 2)} ${c}`,
        'stroke-dashoffset': -offset,
        transform: `rotate(-90 ${size / 2} ${size / 2})`,
      }),
    );
    offset += length;
  }
  return svg;
}

function renderRings(rings, error) {
  $('rings-error').textContent = error ? `Gateway: ${error}` : '';
  const blocks = rings.map((s) => {
    const maxRate = Math.max(1, ...s.instances.map((i) => i.requestsPerSecond ?? 0));
    const rows = s.instances.map((i) =>
      el(
        'tr',
        { 'data-instance': i.id, 'data-state': instanceState(i) },
        el('th', { scope: 'row' }, i.id),
        el('td', {}, `${(i.keyShare * 100).toFixed(1)} %`),
        el(
          'td',
          { class: i.ejected ? 'ejected' : i.healthy ? 'healthy' : 'down' },
          i.ejected ? 'ejected' : i.healthy ? 'healthy' : 'unhealthy',
        ),
        el('td', { class: i.breaker }, i.breaker),
        el('td', {}, String(i.inFlight)),
        el(
          'td',
          {},
          i.requestsPerSecond === null
            ? '–'
            : el(
                'span',
                {},
                el('span', {
                  class: 'bar',
                  style: `width:${Math.round((i.requestsPerSecond / maxRate) * 60)}px`,
                }),
                ` ${i.requestsPerSecond.toFixed(1)}`,
              ),
        ),
      ),
    );
    const table = el(
      'table',
      {},
      el('caption', { class: 'visually-hidden' }, `${s.service} instances`),
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...['Instance', 'Keys', 'Health', 'Breaker', 'In flight', 'req/s'].map((h) =>
            el('th', { scope: 'col' }, h),
          ),
        ),
      ),
      el('tbody', {}, ...rows),
    );
    return el(
      'div',
      { class: 'ring', 'data-service': s.service },
      ringSvg(s),
      el(
        'div',
        {},
        el('h3', {}, `${s.service} · ${s.algorithm}${s.panic ? ' · PANIC (all instances offered)' : ''}`),
        table,
      ),
    );
  });
  $('rings').replaceChildren(...blocks);
}

function durationOf(step) {
  if (!step.finishedAt) return '';
  const ms = Date.parse(step.finishedAt) - Date.parse(step.startedAt);
  return Number.isFinite(ms) ? ` ${ms} ms` : '';
}

function renderTransactions(items, error) {
  $('tx-error').textContent = error ? `Orchestrator: ${error}` : '';
  const rows = items.map((t) =>
    el(
      'li',
      { 'data-transaction': t.id, 'data-status': t.status },
      el(
        'div',
        {},
        el('strong', {}, `${t.mode} ${t.type}`),
        el('br'),
        el('code', {}, t.id.slice(0, 8)),
        ' ',
        el('span', { class: `badge ${t.status}` }, t.status),
        t.reason ? el('div', { class: 'muted' }, t.reason) : null,
      ),
      el(
        'ol',
        { class: 'steps', 'aria-label': 'steps' },
        ...(t.steps ?? []).map((s) =>
          el(
            'li',
            { class: `step ${s.status}`, title: `${s.step}: ${s.status}, ${s.attempts} attempt(s)` },
            `${s.step} · ${s.status}${durationOf(s)}`,
          ),
        ),
      ),
    ),
  );
  $('transactions').replaceChildren(...rows);
}

function renderEvents(events) {
  const list = $('events');
  for (const e of events) {
    list.prepend(el('li', { class: e.level }, el('time', {}, clock(e.atMs)), e.message));
  }
  while (list.children.length > 200) list.lastElementChild.remove();
}

function renderTraces(jaegerUrl) {
  $('traces').replaceChildren(
    jaegerUrl
      ? el(
          'a',
          { href: `${jaegerUrl}/search?service=gateway`, target: '_blank', rel: 'noopener' },
          'Open recent traces in Jaeger',
        )
      : 'No trace viewer is configured (JAEGER_URL).',
  );
}

// --- Singleton job holders (polled from /console/api/singletons) -----------------------------------------

async function authorizedJson(path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return { status: 401, body: null };
  const response = await fetch(path, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
  });
  return {
    status: response.status,
    body: response.ok || response.status === 400 ? await response.json() : null,
  };
}

async function refreshSingletons() {
  if ($('live').hidden) return;
  let answer;
  try {
    answer = await authorizedJson('/console/api/singletons');
  } catch {
    $('singletons-error').textContent = 'The console did not answer.';
    return;
  }
  if (answer.body === null) {
    $('singletons-error').textContent = `The console answered ${answer.status}.`;
    return;
  }
  const { holders, error } = answer.body;
  $('singletons-error').textContent = error ? `Coordinator: ${error}` : '';
  const rows = holders.map((h) =>
    el(
      'tr',
      { 'data-job': h.job },
      el('th', { scope: 'row' }, h.job),
      el('td', {}, h.holder ? `${h.holder} (${h.lease})` : h.lease),
      el('td', { class: 'num' }, String(h.fencingToken)),
      el('td', { class: 'num' }, String(h.waiting)),
      el('td', {}, el('time', { datetime: new Date(h.sinceMs).toISOString() }, clock(h.sinceMs))),
    ),
  );
  if (rows.length === 0)
    rows.push(el('tr', {}, el('td', { colspan: '5' }, 'No singleton job holds a lock.')));
  $('singletons')
    .querySelector('tbody')
    .replaceChildren(...rows);
}
setInterval(() => void refreshSingletons(), 2000);

// --- Paxos runs (GET /console/api/paxos, computed by the console from libs/paxos's simulator) ------------

const PAXOS_ARROW = {
  prepare: '→',
  promise: '←',
  accept: '→',
  accepted: '←',
  nack: '✕',
  chosen: '★',
  timeout: '⏱',
};

async function runPaxos() {
  const form = new FormData($('paxos-form'));
  const query = new URLSearchParams([...form.entries()].map(([k, v]) => [k, String(v)]));
  $('paxos-summary').textContent = 'Running…';
  let answer;
  try {
    answer = await authorizedJson(`/console/api/paxos?${query}`);
  } catch {
    $('paxos-summary').textContent = 'The console did not answer.';
    return;
  }
  if (answer.body === null || answer.status !== 200) {
    $('paxos-summary').textContent = answer.body?.detail ?? `The console answered ${answer.status}.`;
    return;
  }
  const run = answer.body;
  const counts = {};
  for (const e of run.events) counts[e.kind] = (counts[e.kind] ?? 0) + 1;
  $('paxos-summary').textContent =
    (run.chosen
      ? `Chosen: ${run.chosen.value} in ballot ${run.chosen.ballot} at ${run.chosen.atMs} ms`
      : 'No value chosen within the run') +
    ` · seed ${run.seed}, ${run.acceptors.length} acceptors, ${run.proposers.length} proposer(s), ` +
    `${run.ballots} ballot(s), ${run.messages} messages` +
    (counts.nack ? `, ${counts.nack} nack(s)` : '') +
    (run.truncated ? ' (cut at the event limit)' : '');
  $('paxos-timeline').replaceChildren(
    ...run.events.map((e) =>
      el(
        'li',
        { class: `paxos-${e.kind}${e.dropped ? ' dropped' : ''}`, 'data-kind': e.kind },
        el('time', {}, `${e.atMs} ms`),
        el('span', { class: 'kind' }, e.kind),
        ` ${e.from} ${PAXOS_ARROW[e.kind] ?? '→'} ${e.to} `,
        el('span', { class: 'ballot' }, `ballot ${e.ballot}`),
        e.value === null ? '' : ` ${e.value}`,
        e.dropped ? ' (lost)' : '',
      ),
    ),
  );
}

$('paxos-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void runPaxos();
});

setInterval(() => {
  if (lastMessageAt > 0 && Date.now() - lastMessageAt > STALE_AFTER_MS) {
    setStatus(`No update since ${clock(lastMessageAt)}`, 'stale');
  }
}, 1000);

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = $('token').value.trim();
  if (token === '') return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('token').value = '';
  void connect(token);
});
$('sign-out').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin();
});

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) void connect(saved);
else showLogin();
