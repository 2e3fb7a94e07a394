import { getJson } from '../api.js';
import { alarming, errorBox, formatNumber, h, replace, route, stats, table } from '../dom.js';
import { poll } from '../poll.js';
import { placementColumns } from '../replication.js';

const REFRESH_MS = 2000;

function brokerBadges(b) {
  return [
    b.controller ? h('span', { class: 'badge accent' }, 'controller') : null,
    b.self ? h('span', { class: 'badge' }, 'this broker') : null,
    b.shuttingDown ? h('span', { class: 'badge warn' }, 'shutting down') : null,
    b.registered ? null : h('span', { class: 'badge warn' }, 'not registered'),
  ]
    .filter(Boolean)
    .flatMap((badge) => [' ', badge]);
}

function brokersTable(c) {
  return table(
    [
      { label: 'Broker', value: (b) => [h('strong', null, b.id), brokerBadges(b)] },
      { label: 'Address', value: (b) => (b.address ? h('span', { class: 'mono' }, b.address) : h('span', { class: 'muted' }, '—')) },
      { label: 'Rack', value: (b) => b.rack ?? h('span', { class: 'muted' }, '—') },
      { label: 'Leads', num: true, value: (b) => formatNumber(b.leaders) },
      { label: 'Replicas', num: true, value: (b) => formatNumber(b.replicas) },
    ],
    c.brokers,
    { caption: 'Brokers' },
  );
}

function unhealthySection(c) {
  const { offline, underReplicated } = c.partitions;
  const shown = c.unhealthy.length;
  return h(
    'section',
    { class: 'panel' },
    h('h2', null, 'Partitions needing attention'),
    table(
      [
        { label: 'Topic', value: (p) => h('a', { href: route('topics', p.topic) }, p.topic) },
        { label: 'Partition', num: true, value: (p) => p.partition },
        ...placementColumns,
      ],
      c.unhealthy,
      { empty: 'None: every partition has a leader and all its replicas in sync.', caption: 'Partitions needing attention' },
    ),
    shown < offline + underReplicated ? h('p', { class: 'muted' }, `The first ${shown} of ${offline + underReplicated}.`) : null,
  );
}

function perMinute(total, rate) {
  return [formatNumber(total), rate === null ? null : h('span', { class: 'aside' }, `${formatNumber(rate)}/min`)];
}

function replicationSection(c) {
  const r = c.replication;
  return h(
    'section',
    { class: 'panel' },
    h('h2', null, `Replication on broker ${c.brokerId}`),
    stats([
      ['Replicas here', formatNumber(r.replicas)],
      ['Leading', formatNumber(r.leaders)],
      ['Following', formatNumber(r.followers)],
      ['Offline here', alarming(r.offline)],
      ['ISR shrinks', perMinute(r.isrShrinks, r.isrShrinksPerMinute)],
      ['ISR expands', perMinute(r.isrExpands, r.isrExpandsPerMinute)],
    ]),
    h('h3', null, 'Replicas behind'),
    table(
      [
        { label: 'Topic', value: (l) => h('a', { href: route('topics', l.topic) }, l.topic) },
        { label: 'Partition', num: true, value: (l) => l.partition },
        { label: 'Replica on', value: (l) => [h('span', { class: 'mono' }, l.broker), l.broker === c.brokerId ? [' ', h('span', { class: 'badge' }, 'this broker')] : null] },
        { label: 'Records behind', num: true, value: (l) => (l.lag === null ? h('span', { class: 'muted' }, 'not fetched yet') : formatNumber(l.lag)) },
        { label: 'In sync', value: (l) => (l.inSync ? h('span', { class: 'badge ok' }, 'yes') : h('span', { class: 'badge warn' }, 'no')) },
      ],
      r.lagging,
      { empty: 'None: every replica this broker follows or leads is caught up.', caption: 'Replicas behind' },
    ),
  );
}

function storeText(s) {
  return [s.kind, ' ', s.writable ? h('span', { class: 'badge ok' }, 'writable') : h('span', { class: 'badge warn', title: s.reason ?? '' }, 'not writable')];
}

/** Every broker, the controller, what needs attention, and this broker's replication. */
export async function clusterPage({ root, alive }) {
  const body = h('div');
  const head = h('span', { class: 'muted' });
  replace(root, h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Cluster'), head), body);
  return poll({
    load: () => getJson('/cluster'),
    draw: (c) => {
      head.textContent = c.clusterId;
      const registered = c.brokers.filter((b) => b.registered).length;
      replace(
        body,
        stats([
          ['Brokers', formatNumber(registered)],
          ['Controller', c.controllerId < 0 ? h('span', { class: 'alarm' }, 'none') : `broker ${c.controllerId}`],
          ['Metadata store', storeText(c.metadataStore), true],
          ['Topics', formatNumber(c.topics)],
          ['Partitions', formatNumber(c.partitions.partitions)],
          ['Offline partitions', alarming(c.partitions.offline)],
          ['Under-replicated', alarming(c.partitions.underReplicated)],
          ['Reassigning', formatNumber(c.partitions.reassigning)],
        ]),
        c.metadataStore.writable ? null : h('p', { class: 'error', role: 'alert' }, `This broker serves no writes now: ${c.metadataStore.reason ?? 'its registration is not known to be alive'}`),
        h('section', { class: 'panel' }, h('h2', null, 'Brokers'), brokersTable(c)),
        unhealthySection(c),
        replicationSection(c),
      );
    },
    fail: (e) => replace(body, errorBox(e)),
    alive,
    intervalMs: REFRESH_MS,
  });
}
