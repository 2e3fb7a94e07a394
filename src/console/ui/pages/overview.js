import { getJson } from '../api.js';
import { LineChart } from '../charts.js';
import { alarming, errorBox, formatBytes, formatNumber, h, replace, stats } from '../dom.js';

const WINDOW_MS = 5 * 60 * 1000;
const REFRESH_MS = 1000;

function panel(title, body) {
  return h('section', { class: 'panel' }, h('h2', null, title), body);
}

/** Broker facts and live throughput, redrawn every second from the broker's samples. */
export async function overviewPage({ root, alive }) {
  const bytes = new LineChart({
    label: 'Bytes per second produced and fetched, last five minutes',
    series: [
      { key: 'bytesIn', label: 'In', color: '--in' },
      { key: 'bytesOut', label: 'Out', color: '--out' },
    ],
    format: (v) => `${formatBytes(v)}/s`,
    windowMs: WINDOW_MS,
  });
  const messages = new LineChart({
    label: 'Messages per second produced and consumed, last five minutes',
    series: [
      { key: 'messagesIn', label: 'Produced', color: '--in' },
      { key: 'messagesConsumed', label: 'Consumed (committed by groups)', color: '--out' },
    ],
    format: (v) => `${formatNumber(v)}/s`,
    windowMs: WINDOW_MS,
  });
  const facts = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  replace(
    root,
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Overview')),
    facts,
    h('div', { class: 'grid two' }, panel('Bytes / second', bytes.element), panel('Messages / second', messages.element)),
  );

  let last = [];
  const refresh = async () => {
    try {
      const o = await getJson('/overview');
      if (!alive()) return;
      const controller = o.controllerId < 0 ? h('span', { class: 'alarm' }, 'none') : o.controllerId === o.brokerId ? 'this broker' : `broker ${o.controllerId}`;
      replace(
        facts,
        h('h2', null, 'Cluster'),
        stats([
          ['Cluster id', o.clusterId, true],
          ['Brokers', [formatNumber(o.brokers), h('span', { class: 'aside' }, o.metadataStore)]],
          ['Controller', controller],
          ['Topics', [formatNumber(o.topics), o.internalTopics ? h('span', { class: 'aside' }, `+${o.internalTopics} internal`) : null]],
          ['Partitions', formatNumber(o.partitions)],
          ['Offline partitions', alarming(o.offlinePartitions)],
          ['Under-replicated', alarming(o.underReplicatedPartitions)],
        ]),
        h('h2', null, `Broker ${o.brokerId}`),
        stats([
          ['Broker id', o.brokerId],
          ['Listeners', o.listeners.join(', '), true],
          ['Replicas here', [formatNumber(o.replicas), h('span', { class: 'aside' }, `${formatNumber(o.leaders)} leading`)]],
          ['Log size', formatBytes(o.totalLogBytes)],
          // In a cluster each group lives on the broker that leads its __consumer_offsets partition.
          [o.brokers > 1 ? 'Groups coordinated here' : 'Consumer groups', formatNumber(o.groups)],
          ['Messages in (total)', o.totals ? formatNumber(o.totals.messagesIn) : '—'],
        ]),
      );
      last = o.throughput;
      bytes.update(last);
      messages.update(last);
    } catch (e) {
      if (alive()) replace(facts, errorBox(e));
    }
  };
  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  const redraw = () => {
    bytes.draw(last);
    messages.draw(last);
  };
  window.addEventListener('resize', redraw);
  return () => {
    clearInterval(timer);
    window.removeEventListener('resize', redraw);
  };
}
