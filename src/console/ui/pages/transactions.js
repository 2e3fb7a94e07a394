import { getJson } from '../api.js';
import { errorBox, formatNumber, formatTime, h, replace, route, table } from '../dom.js';
import { poll } from '../poll.js';

const REFRESH_MS = 2000;

function stateBadge(state) {
  const settled = state === 'Empty' || state === 'CompleteCommit' || state === 'CompleteAbort';
  return h('span', { class: `badge ${state === 'Ongoing' ? 'ok' : settled ? '' : 'warn'}` }, state);
}

/** How long ago, for a transaction's age; long ones are what an operator looks for. */
function age(ms, now) {
  if (ms === null) return '—';
  const s = Math.max(0, (now - ms) / 1000);
  return s < 120 ? `${s.toFixed(1)} s` : `${formatNumber(Math.round(s / 60))} min`;
}

function partitionsText(partitions) {
  return partitions.map((p) => `${p.topic}:${p.partitions.join(',')}`).join(' ') || '—';
}

/** The transactions this broker coordinates, and those still open in partitions it leads. */
export async function transactionsPage({ root, alive }) {
  const body = h('div');
  replace(root, h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Transactions')), body);
  return poll({
    load: () => getJson('/transactions'),
    draw: (t) => {
      const now = Date.now();
      replace(
        body,
        h(
          'section',
          { class: 'panel' },
          h('h2', null, 'Coordinated by this broker'),
          table(
            [
              { label: 'Transactional id', value: (x) => x.transactionalId },
              { label: 'State', value: (x) => stateBadge(x.state) },
              { label: 'Producer', value: (x) => `${x.producerId} / epoch ${x.producerEpoch}` },
              { label: 'Timeout', num: true, value: (x) => `${formatNumber(x.timeoutMs)} ms` },
              { label: 'Open for', num: true, value: (x) => age(x.startTimestamp, now) },
              { label: 'Partitions', value: (x) => partitionsText(x.partitions) },
            ],
            t.coordinated,
            { empty: 'No transactional id is coordinated here.', caption: 'Transactions coordinated by this broker' },
          ),
        ),
        h(
          'section',
          { class: 'panel' },
          h('h2', null, 'Open in partitions led here'),
          h(
            'p',
            { class: 'muted' },
            'A transaction open here holds the last stable offset back: read_committed consumers wait at it. ',
            h('code', null, 'sluice transactions abort'),
            ' ends one whose producer is gone.',
          ),
          table(
            [
              { label: 'Partition', value: (x) => h('a', { href: route('topics', x.topic) }, `${x.topic}-${x.partition}`) },
              { label: 'Producer', value: (x) => `${x.producerId} / epoch ${x.producerEpoch}` },
              { label: 'First offset', num: true, value: (x) => formatNumber(x.firstOffset) },
              { label: 'Stable / high watermark', num: true, value: (x) => `${formatNumber(x.lastStableOffset)} / ${formatNumber(x.highWatermark)}` },
              { label: 'Last write', value: (x) => formatTime(x.lastTimestamp) },
            ],
            t.open,
            { empty: 'None.', caption: 'Transactions open in partitions this broker leads' },
          ),
        ),
      );
    },
    fail: (e) => replace(body, errorBox(e)),
    alive,
    intervalMs: REFRESH_MS,
  });
}
