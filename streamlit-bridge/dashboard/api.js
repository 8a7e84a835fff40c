// The dashboard's only link to the bridge: JSON GETs and one EventSource. Amounts arrive as
// decimal strings and are formatted with BigInt, so no balance ever passes through a float.

export async function getJson(path) {
  const res = await fetch(path, { headers: { Accept: 'application/json' }, cache: 'no-store' });
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const e = body && body.error ? body.error : { code: 'HTTP_' + res.status, message: res.statusText };
    throw Object.assign(new Error(e.message), { code: e.code });
  }
  return body;
}

/**
 * Opens /events and dispatches named events to handlers. The browser reconnects by itself and
 * sends Last-Event-ID, so the bridge replays the ledger rows missed meanwhile.
 */
export function connectEvents(handlers, onStatus, url = '/events') {
  const es = new EventSource(url);
  es.onopen = () => onStatus('live');
  es.onerror = () => onStatus(es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
  for (const [name, fn] of Object.entries(handlers)) {
    es.addEventListener(name, (ev) => {
      let data = null;
      try {
        data = JSON.parse(ev.data);
      } catch {
        return;
      }
      fn(data, ev);
    });
  }
  return es;
}

const group = (s) => s.replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f');

/** "1234567" → "1 234 567" (narrow no-break spaces), exact for any size. */
export function fmtAmount(v) {
  if (v === null || v === undefined) return '—';
  const s = String(v);
  return s.startsWith('-') ? '−' + group(s.slice(1)) : group(s);
}

/** A compact amount for KPI tiles: 12.3k, 4.5M (display only; exact value in the title). */
export function fmtCompact(v) {
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  const a = Math.abs(n);
  if (a >= 1e9) return (n / 1e9).toFixed(1) + 'G';
  if (a >= 1e6) return (n / 1e6).toFixed(1) + 'M';
  if (a >= 1e4) return (n / 1e3).toFixed(1) + 'k';
  return fmtAmount(v);
}

export function fmtTime(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

export function fmtAgo(iso) {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.round(s / 60) + ' min ago';
  return Math.round(s / 3600) + ' h ago';
}

export function fmtRatio(x, digits = 3) {
  return x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);
}

/** Share of `part` in `total` (both decimal strings) in percent, exact to 0.1 %. */
export function share(part, total) {
  const t = BigInt(total || '0');
  if (t <= 0n) return 0;
  return Number((BigInt(part) * 1000n) / t) / 10;
}

/** Creates an element: h('td', { class: 'num', title: 'x' }, 'text', child, ...). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'style') el.style.cssText = v;
    else if (k.startsWith('data-')) el.setAttribute(k, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Stable colour per resource (palette chosen to read on light and dark backgrounds). */
const PALETTE = ['#3b82f6', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#06b6d4', '#ec4899', '#84cc16'];
const KNOWN = { energy: '#f59e0b', water: '#06b6d4', credits: '#10b981', compute: '#8b5cf6', llm_budget: '#ec4899' };
export function colorOf(resource, index = 0) {
  return KNOWN[resource] || PALETTE[index % PALETTE.length];
}
