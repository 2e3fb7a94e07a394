import { getJson } from './api.js';
import { h, replace } from './dom.js';
import { clusterPage } from './pages/cluster.js';
import { groupPage } from './pages/group.js';
import { groupsPage } from './pages/groups.js';
import { messagesPage } from './pages/messages.js';
import { overviewPage } from './pages/overview.js';
import { queuesPage } from './pages/queues.js';
import { topicPage } from './pages/topic.js';
import { topicsPage } from './pages/topics.js';
import { transactionsPage } from './pages/transactions.js';

// Routes live in the hash (#/topics/orders?x=1), so every page is a link and the server
// needs no fallback route.
const ROUTES = [
  { path: [], nav: 'overview', page: overviewPage },
  { path: ['cluster'], nav: 'cluster', page: clusterPage },
  { path: ['topics'], nav: 'topics', page: topicsPage },
  { path: ['topics', ':name'], nav: 'topics', page: topicPage },
  { path: ['messages'], nav: 'messages', page: messagesPage },
  { path: ['groups'], nav: 'groups', page: groupsPage },
  { path: ['groups', ':id'], nav: 'groups', page: groupPage },
  { path: ['transactions'], nav: 'transactions', page: transactionsPage },
  { path: ['queues'], nav: 'queues', page: queuesPage },
];

const view = document.getElementById('view');
const toastArea = document.getElementById('toast');
let leave = null;
let generation = 0;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  try {
    return { segments: path === '' ? [] : path.split('/').map(decodeURIComponent), query };
  } catch {
    return { segments: null, query };
  }
}

function match(segments) {
  for (const r of ROUTES) {
    if (!segments || r.path.length !== segments.length) continue;
    const params = {};
    if (r.path.every((p, i) => (p.startsWith(':') ? ((params[p.slice(1)] = segments[i]), true) : p === segments[i]))) return { route: r, params };
  }
  return null;
}

let toastTimer = null;
/** A short message in the corner; kind is 'success' or 'error'. */
export function toast(message, kind = 'success') {
  clearTimeout(toastTimer);
  replace(toastArea, h('div', { class: kind }, message));
  toastTimer = setTimeout(() => replace(toastArea), 5000);
}

export function navigate(hash) {
  location.hash = hash;
}

async function render(moveFocus) {
  leave?.();
  leave = null;
  const mine = ++generation;
  const { segments, query } = parseHash();
  const found = match(segments);
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (found && a.dataset.nav === found.route.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!found) {
    replace(view, h('h1', null, 'Not found'), h('p', null, 'No such page. ', h('a', { href: '#/' }, 'Back to the overview')));
    return;
  }
  replace(view, h('p', { class: 'muted' }, 'Loading…'));
  // Pages check alive() after each await, so a slow answer never draws over the next page.
  const ctx = { root: view, params: found.params, query, navigate, toast, alive: () => mine === generation };
  try {
    const cleanup = await found.route.page(ctx);
    if (mine === generation) leave = cleanup ?? null;
    else cleanup?.();
  } catch (e) {
    if (mine === generation) replace(view, h('h1', null, 'Something went wrong'), h('p', { class: 'error', role: 'alert' }, e.message));
  }
  if (moveFocus && mine === generation) (view.querySelector('h1') ?? view).focus({ preventScroll: false });
}

// The skip link targets the main element, which the hash router would take for a route.
document.querySelector('.skip-link').addEventListener('click', (e) => {
  e.preventDefault();
  view.focus();
});

window.addEventListener('hashchange', () => render(true));
render(false);

getJson('/overview')
  .then((o) => {
    document.getElementById('broker-id').textContent = `broker ${o.brokerId} · cluster ${o.clusterId}`;
  })
  .catch(() => {});
