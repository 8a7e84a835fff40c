// The live dashboard: loads the current state over the bridge's JSON API, then follows the SSE
// stream. Ledger rows, rejections and alerts are shown the moment they arrive; balances and
// metrics (derived figures) are re-read shortly after, at most once a second.
import { getJson, connectEvents, fmtAmount, fmtCompact, fmtTime, fmtAgo, fmtRatio, share, h, colorOf } from './api.js';
import { TimeChart } from './charts.js';

const $ = (id) => document.getElementById(id);
const MAX_FEED = 60;
const state = { world: null, metrics: null, head: '0', ledgerIds: new Set(), rejectionIds: new Set(), prevBalances: new Map(), resources: [] };
const charts = {
  flows: new TimeChart($('chart-flows'), { log: true, yFmt: (v) => fmtCompact(Math.round(v)) }),
  velocity: new TimeChart($('chart-velocity'), { yFmt: (v) => v.toFixed(2) }),
  gini: new TimeChart($('chart-gini'), { yRange: [0, 1], yFmt: (v) => v.toFixed(2) }),
  decisions: new TimeChart($('chart-decisions'), { yFmt: (v) => String(Math.round(v)) }),
};

function setPill(id, st, text) {
  const el = $(id);
  el.dataset.state = st;
  el.querySelector('span').textContent = text;
}

// ---- feeds -------------------------------------------------------------------------------
function route(from, to) {
  return [from ?? '∅', ' → ', to ?? '∅'];
}

function ledgerItem(r) {
  let what;
  if (r.amount !== null) what = [...route(r.from, r.to), '  ', h('span', { class: 'amt' }, fmtAmount(r.amount)), ' ', h('span', { class: 'res' }, r.resource)];
  else if (r.kind === 'breaker_set') what = [r.metadata.open ? 'opened' : 'closed', ' by ', r.agent, r.metadata.reason ? ` — ${r.metadata.reason}` : ''];
  else what = [r.agent];
  return h('li', { 'data-ledger-id': r.id, title: `hash ${r.hash}\nproposal ${r.proposal_id}` },
    h('span', { class: 'id' }, '#' + r.id),
    h('span', { class: 'what' }, h('span', { class: 'kind ' + r.kind }, r.kind), ...what),
    h('span', { class: 'when' }, fmtTime(r.at_ms)));
}

function rejectionItem(r) {
  const asked = r.amount ? [' · ', ...route(r.from, r.to), ' ', h('span', { class: 'amt' }, fmtAmount(r.amount)), ' ', r.resource ?? ''] : [];
  return h('li', { 'data-rejection-id': r.id, 'data-code': r.code },
    h('span', { class: 'code' }, r.code),
    h('span', { class: 'what' }, r.agent ?? '(unknown)', ' ', h('span', { class: 'res' }, r.kind ?? ''), ...asked),
    h('span', { class: 'when' }, fmtTime(r.at_ms)),
    h('span', { class: 'msg', title: r.message }, r.message));
}

function alertItem(a) {
  const deliveries = Object.entries(a.deliveries || {}).map(([c, s]) => `${c}: ${s}`).join(' · ') || 'not dispatched yet';
  return h('li', { 'data-alert-id': a.id },
    h('span', { class: a.topic === 'breaker' ? 'kind breaker_set' : 'code' }, a.topic === 'breaker' ? (a.breaker_open ? 'BREAKER OPEN' : 'BREAKER CLOSED') : a.code ?? a.topic),
    h('span', { class: 'what' }, a.agent ?? '', ' ', h('span', { class: 'res' }, deliveries)),
    h('span', { class: 'when' }, fmtTime(a.at_ms)),
    h('span', { class: 'msg', title: a.message ?? '' }, a.message ?? ''));
}

function addToFeed(listId, items, fresh) {
  const list = $(listId);
  list.querySelector('.empty')?.remove();
  for (const el of items) {
    if (fresh) el.classList.add('fresh');
    list.prepend(el);
  }
  while (list.children.length > MAX_FEED) list.lastElementChild.remove();
}

function addRejections(rows, fresh) {
  const add = rows.filter((r) => !state.rejectionIds.has(r.id));
  for (const r of add) state.rejectionIds.add(r.id);
  addToFeed('rejection-feed', add.map(rejectionItem), fresh);
}

function emptyFeed(listId, text) {
  if (!$(listId).children.length) $(listId).append(h('li', { class: 'empty' }, text));
}

function onLedger(rows, fresh) {
  const add = rows.filter((r) => !state.ledgerIds.has(r.id));
  for (const r of add) state.ledgerIds.add(r.id);
  addToFeed('ledger-feed', add.map(ledgerItem), fresh);
  const last = add[add.length - 1];
  if (last && BigInt(last.id) > BigInt(state.head)) {
    state.head = last.id;
    $('kpi-head').textContent = '#' + fmtAmount(last.id);
    $('kpi-head-sub').textContent = 'last entry ' + fmtTime(last.at_ms);
  }
}

// ---- balances ----------------------------------------------------------------------------
const KIND_ORDER = { agent: 0, human: 1, governor: 2, treasury: 3, reserve: 4, escrow: 5, system: 6 };

function renderBalances(w) {
  const resources = w.resources.map((r) => r.id);
  const actors = [...w.actors].sort((a, b) => (KIND_ORDER[a.kind] ?? 9) - (KIND_ORDER[b.kind] ?? 9) || a.id.localeCompare(b.id));
  const totals = Object.fromEntries(resources.map((r) => [r, 0n]));
  for (const m of Object.values(w.balances)) for (const [r, v] of Object.entries(m)) if (r in totals) totals[r] += BigInt(v);
  const thead = $('balances').tHead;
  thead.replaceChildren(h('tr', null, h('th', null, 'actor'), ...w.resources.map((r, i) =>
    h('th', { title: r.unit }, h('span', { style: `color:${colorOf(r.id, i)}` }, '■ '), r.id))));
  const rows = [];
  let prevKind = null;
  for (const a of actors) {
    const mine = w.balances[a.id] || {};
    if (!Object.keys(mine).length && a.kind !== 'agent') continue;
    const tr = h('tr', { class: prevKind !== null && prevKind === 'agent' && a.kind !== 'agent' ? 'sep' : null, 'data-actor': a.id },
      h('td', null, h('span', { class: 'actor' }, a.id), h('span', { class: 'badge' }, a.kind)));
    prevKind = a.kind;
    resources.forEach((r, i) => {
      const v = mine[r] ?? '0';
      const key = a.id + '\u0000' + r;
      const changed = state.prevBalances.has(key) && state.prevBalances.get(key) !== v;
      state.prevBalances.set(key, v);
      tr.append(h('td', { class: 'cell' + (v === '0' ? ' zero' : '') + (changed ? ' changed' : ''), style: `--pct:${share(v, totals[r].toString())}%;--c:${colorOf(r, i)}`, title: `${share(v, totals[r].toString())}% of all ${r}` }, fmtAmount(v)));
    });
    rows.push(tr);
  }
  rows.push(h('tr', { class: 'sep' }, h('td', null, h('span', { class: 'actor' }, 'supply')), ...resources.map((r) => h('td', null, fmtAmount(totals[r].toString())))));
  $('balances').tBodies[0].replaceChildren(...rows);
  $('balances-hint').textContent = `as of entry #${w.as_of.ledger_id}`;
}

// ---- metrics -----------------------------------------------------------------------------
function renderMetrics(m) {
  const xs = m.buckets.map((b) => b.startMs / 1000);
  const res = [...new Set(m.buckets.flatMap((b) => Object.keys(b.resources)))].sort();
  const colored = (r) => colorOf(r, state.resources.indexOf(r));
  const per = (f) => res.map((r) => ({ label: r, color: colored(r), values: m.buckets.map((b) => (b.resources[r] ? f(b.resources[r]) : null)) }));
  const flowRes = res.filter((r) => m.buckets.some((b) => b.resources[r] && b.resources[r].volume !== '0'));
  charts.flows.update(xs, per((s) => (s.volume === '0' ? null : Number(s.volume))).filter((s) => flowRes.includes(s.label)));
  charts.velocity.update(xs, per((s) => s.velocity).filter((s) => s.values.some((v) => v !== null && v > 0)));
  const gres = Object.keys(m.gini).sort();
  charts.gini.update(m.gini_series.map((s) => s.t / 1000), gres.map((r) => ({ label: r, color: colored(r), values: m.gini_series.map((s) => s.values[r] ?? null) })));
  charts.decisions.update(xs, [
    { label: 'applied', color: '#10b981', values: m.buckets.map((b) => b.proposals) },
    { label: 'rejected', color: '#ef4444', values: m.buckets.map((b) => b.rejections.total) },
  ]);
  const t = m.totals;
  $('kpi-proposals').textContent = fmtAmount(t.proposals);
  $('kpi-proposals-sub').textContent = `${fmtAmount(t.entries)} ledger entries`;
  $('kpi-rejections').textContent = fmtAmount(t.rejections);
  const den = t.proposals + t.rejections;
  $('kpi-rejections-sub').textContent = den ? `${((100 * t.rejections) / den).toFixed(1)} % of decisions` : 'no decisions yet';
  const gr = m.gini.credits ? 'credits' : gres[0];
  $('kpi-gini-res').textContent = gr ?? '—';
  $('kpi-gini').textContent = gr ? fmtRatio(m.gini[gr].value) : '—';
  const lastWith = [...m.buckets].reverse().find((b) => b.resources[gr] && b.resources[gr].velocity !== null);
  $('kpi-vel-res').textContent = gr ?? '—';
  $('kpi-velocity').textContent = lastWith ? fmtRatio(lastWith.resources[gr].velocity) : '—';
  $('kpi-velocity-sub').textContent = `turnovers per ${m.bucketMs / 1000} s bucket`;
  const codes = {};
  for (const b of m.buckets) for (const [c, v] of Object.entries(b.rejections.byCode)) codes[c] = (codes[c] || 0) + v.count;
  $('rejection-codes').replaceChildren(...Object.entries(codes).sort((a, b) => b[1] - a[1]).slice(0, 8).map(([c, n]) => h('span', { class: 'code', title: `${n} in the charted window` }, c, h('b', null, n))));
}

// ---- artifact economy --------------------------------------------------------------------
function renderArtifacts(a) {
  const c = a.controlEntropy;
  const rows = [];
  const add = (k, ...val) => rows.push(h('dt', null, k), h('dd', null, ...val));
  add('dependency depth', h('b', null, String(a.depth)), ` · ${fmtAmount(a.artifacts)} artifacts, ${fmtAmount(a.edges)} edges`);
  add('longest chain', a.longestChain.length ? h('span', { class: 'chain' }, a.longestChain.join(' → ')) : '—');
  add('cycles', a.cycleCount ? h('span', { class: 'bad', title: a.cycles.map((x) => x.join(' ↔ ')).join('\n') }, String(a.cycleCount)) : '0');
  add('control entropy', h('b', null, `${fmtRatio(c.entropyBits)} bits`), ' (0 = one mode, 1 = even mix)');
  add('calls', `${fmtAmount(c.invocations)}: ${fmtAmount(c.command)} by the owner, ${fmtAmount(c.autonomous)} autonomous`);
  if (a.fold_error) add('error', h('span', { class: 'bad' }, `${a.fold_error.code}: ${a.fold_error.message}`));
  $('artifact-figures').replaceChildren(...rows);
  const lindy = a.lindy.map((r) => h('tr', { 'data-artifact': r.artifact },
    h('td', null, h('span', { class: 'actor' }, r.artifact)),
    h('td', { title: `first seen ${new Date(r.firstSeenAt).toISOString()}` }, String(r.ageBuckets)),
    h('td', null, String(r.distinctInvokers)),
    h('td', { title: `${r.successes} succeeded` }, fmtAmount(r.invocations)),
    h('td', null, h('b', null, fmtAmount(r.score)))));
  $('lindy').tBodies[0].replaceChildren(...(lindy.length ? lindy : [h('tr', null, h('td', { colspan: '5', class: 'zero' }, 'no artifact has been invoked yet'))]));
  $('artifacts-hint').textContent = `Lindy age in ${a.lindyBucketMs / 60000} min buckets · as of entry #${a.as_of.entry_id}`;
}

// ---- breaker & verification --------------------------------------------------------------
function renderBreaker(b) {
  setPill('pill-breaker', b.open ? 'open' : 'closed', b.open ? 'breaker OPEN' : 'breaker closed');
  $('pill-breaker').title = `circuit breaker: ${b.reason}${b.set_by ? ' (by ' + b.set_by + ')' : ''}`;
  $('breaker-banner').hidden = !b.open;
  $('breaker-banner-reason').textContent = `${b.reason}${b.set_by ? ' (set by ' + b.set_by + ')' : ''}`;
}

function renderVerification(v) {
  const labels = { verified: 'ledger verified', broken: 'ledger BROKEN', pending: 'verifying…', inconclusive: 're-checking', error: 'verify failed' };
  setPill('pill-verify', v.state, labels[v.state] ?? v.state);
  const el = $('verification');
  el.dataset.state = v.state;
  const r = v.report;
  const yes = (ok) => h('span', { class: ok ? 'ok' : 'bad' }, ok ? '✓ yes' : '✗ no');
  const rows = [h('div', { class: 'big' }, h('span', { class: 'dot' }), v.summary)];
  const add = (k, ...val) => rows.push(h('dt', null, k), h('dd', null, ...val));
  add('checked', v.checked_at ? `${fmtAgo(v.checked_at)} (${new Date(v.checked_at).toLocaleTimeString([], { hour12: false })})` : 'not yet', v.running ? ' · running' : '');
  if (r) {
    add('rows re-hashed', `${fmtAmount(r.rowsReplayed)} (entries ${r.fromId}–${r.lastId}) in ${r.ms} ms`);
    add('hash chain intact', yes(r.chainOk));
    add('balances match ledger', yes(r.cacheMatches), r.diffCount ? ` (${r.diffCount} differences)` : '');
    add('conservation', ...Object.entries(r.conservation).map(([res, c]) => h('span', { class: c.ok ? 'ok' : 'bad', title: `minted ${c.minted} − burned ${c.burned} = supply ${c.supply}` }, `${c.ok ? '✓' : '✗'} ${res}  `)));
    add('head hash', h('span', { class: 'mono' }, r.headHash.slice(0, 32) + '…'));
  }
  if (v.error) add('error', h('span', { class: 'bad' }, `${v.error.code}: ${v.error.message}`));
  el.replaceChildren(...rows);
  state.verification = v;
}

// ---- loading and live updates -----------------------------------------------------------
let refreshTimer = null;
let lastRefresh = 0;
function scheduleRefresh() {
  if (refreshTimer) return;
  const wait = Math.max(250, 1000 - (Date.now() - lastRefresh));
  refreshTimer = setTimeout(async () => {
    refreshTimer = null;
    lastRefresh = Date.now();
    await Promise.all([getJson('/api/world').then(renderWorld), getJson('/api/metrics').then(renderMetrics), getJson('/api/artifacts').then(renderArtifacts)]).catch(() => {});
  }, wait);
}

function renderWorld(w) {
  state.world = w;
  state.resources = w.resources.map((r) => r.id);
  renderBalances(w);
  renderBreaker({ open: w.breaker.open, reason: w.breaker.reason, set_by: w.breaker.by });
}

async function loadAll() {
  const [health, world, metrics, ledger, rejections, alerts, verification] = await Promise.all([
    getJson('/api/health'), getJson('/api/world'), getJson('/api/metrics'), getJson('/api/ledger?order=desc&limit=40'),
    getJson('/api/rejections?order=desc&limit=40'), getJson('/api/alerts?order=desc&limit=20'), getJson('/api/verification'),
  ]);
  $('backend').textContent = health.backend === 'pglite'
    ? 'embedded PGlite'
    : `Postgres · role ${health.role}${health.read_only ? ' (read-only)' : ' (CAN WRITE)'}`;
  renderWorld(world);
  renderMetrics(metrics);
  onLedger([...ledger.rows].reverse(), false);
  addRejections([...rejections.rows].reverse(), false);
  addToFeed('alert-feed', [...alerts.rows].reverse().map(alertItem), false);
  emptyFeed('ledger-feed', 'no entries yet');
  emptyFeed('rejection-feed', 'nothing refused — every proposal so far obeyed the law');
  emptyFeed('alert-feed', 'no alerts');
  renderVerification(verification);
  // Not part of the Promise.all above: the artifact panel failing must not blank the dashboard.
  await getJson('/api/artifacts').then(renderArtifacts).catch(() => {});
  document.body.dataset.ready = 'true';
}

async function resync() {
  const ledger = await getJson('/api/ledger?order=desc&limit=40');
  onLedger([...ledger.rows].reverse(), true);
  scheduleRefresh();
}

function connect() {
  const handlers = {
    ledger: (row) => {
      onLedger([row], true);
      scheduleRefresh();
    },
    resync: () => void resync().catch(() => {}),
    rejection: (r) => {
      addRejections([r], true);
      scheduleRefresh();
    },
    alert: (a) => addToFeed('alert-feed', [alertItem(a)], true),
    breaker: renderBreaker,
    verification: renderVerification,
    notice: (n) => addToFeed('alert-feed', [alertItem({ id: 'n' + n.at_ms, topic: 'bridge', code: n.code, message: n.message, at_ms: n.at_ms, deliveries: { dashboard: 'shown' } })], true),
  };
  // Rows committed between the initial page and this connect are replayed by the bridge.
  connectEvents(handlers, (s) => setPill('pill-stream', s, s), `/events?last_event_id=${state.head}`);
}

loadAll().then(connect).catch((e) => {
  document.body.dataset.ready = 'error';
  document.querySelector('main').prepend(h('div', { class: 'card span-12 banner' }, `Could not load the dashboard: ${e.message}`));
});
setInterval(() => state.verification && renderVerification(state.verification), 10_000);
