import { getJson } from '../api.js';
import { errorBox, formatNumber, formatTime, h, replace, route, stats, table } from '../dom.js';
import { poll } from '../poll.js';

const REFRESH_MS = 2000;
/** Due minutes listed; delays spread over days would otherwise make a page of thousands of rows. */
const MAX_MINUTES_SHOWN = 60;

const orDash = (n) => (n === null ? '—' : formatNumber(n));

function deadLetters(g) {
  if (!g.deadLetters) return h('span', { class: 'muted' }, 'none (archived only)');
  const { topic, records } = g.deadLetters;
  if (records === null) return [topic, h('span', { class: 'muted' }, ' (does not exist yet: dead letters wait)')];
  return [h('a', { href: route('topics', topic) }, topic), ` · ${formatNumber(records)} ${records === 1 ? 'record' : 'records'}`];
}

function shareGroupPanel(g) {
  return h(
    'section',
    { class: 'panel' },
    h('h2', null, g.groupId),
    stats([
      ['Members', g.members === null ? 'coordinated elsewhere' : formatNumber(g.members), g.members === null],
      ['Dead-letter topic', deadLetters(g), true],
    ]),
    table(
      [
        { label: 'Partition', value: (p) => h('a', { href: route('topics', p.topic) }, `${p.topic}-${p.partition}`) },
        { label: 'Start offset', num: true, value: (p) => formatNumber(p.startOffset) },
        { label: 'Available', num: true, value: (p) => formatNumber(p.available) },
        { label: 'Acquired', num: true, value: (p) => formatNumber(p.acquired) },
        { label: 'Acknowledged', num: true, value: (p) => formatNumber(p.acknowledged) },
        { label: 'Archived', num: true, value: (p) => formatNumber(p.archived) },
        { label: 'Lag', num: true, value: (p) => orDash(p.lag) },
        { label: 'High watermark', num: true, value: (p) => orDash(p.highWatermark) },
      ],
      g.partitions,
      { empty: 'No share-partition of this group is served here yet (one comes to life on its first fetch).', caption: `Share-partitions of ${g.groupId}` },
    ),
  );
}

function delayedPanel(d) {
  const shown = d.byMinute.slice(0, MAX_MINUTES_SHOWN);
  const later = d.byMinute.length - shown.length;
  return h(
    'section',
    { class: 'panel' },
    h('h2', null, 'Delayed delivery'),
    h('p', { class: 'muted' }, 'Records produced with sluice-delay-ms or sluice-deliver-at, held until due. ', h('code', null, 'sluice delayed list'), ' says the same from the command line.'),
    stats([['Pending', formatNumber(d.pending)]]),
    table(
      [
        { label: 'Due in the minute from', value: (m) => formatTime(m.dueMinute) },
        { label: 'Records', num: true, value: (m) => formatNumber(m.records) },
      ],
      shown,
      { empty: 'Nothing is held.', caption: 'Pending delayed records by due minute' },
    ),
    later > 0 ? h('p', { class: 'muted' }, `and ${formatNumber(later)} later minutes`) : null,
  );
}

/** Share groups (queues over topics) with their dead letters, and records held for delayed delivery. */
export async function queuesPage({ root, alive }) {
  const body = h('div');
  replace(root, h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Queues')), body);
  return poll({
    load: () => getJson('/queues'),
    draw: (q) =>
      replace(
        body,
        q.shareGroups.length === 0 ? h('section', { class: 'panel' }, h('h2', null, 'Share groups'), h('p', { class: 'muted' }, 'No share group here yet.')) : q.shareGroups.map(shareGroupPanel),
        delayedPanel(q.delayed),
      ),
    fail: (e) => replace(body, errorBox(e)),
    alive,
    intervalMs: REFRESH_MS,
  });
}
