import { getJson } from '../api.js';
import { LineChart } from '../charts.js';
import { errorBox, formatBytes, formatNumber, h, replace, stats } from '../dom.js';

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
      replace(
        facts,
        stats([
          ['Broker id', o.brokerId],
          ['Cluster id', o.clusterId, true],
          ['Listeners', o.listeners.join(', '), true],
          ['Topics', [formatNumber(o.topics), o.internalTopics ? h('span', { class: 'aside' }, `+${o.internalTopics} internal`) : null]],
          ['Partitions', formatNumber(o.partitions)],
          ['Log size', formatBytes(o.totalLogBytes)],
          ['Consumer groups', formatNumber(o.groups)],
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
