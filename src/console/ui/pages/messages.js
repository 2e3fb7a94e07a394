import { getJson, seg } from '../api.js';
import { errorBox, formatBytes, formatNumber, formatTime, h, replace, route, routeWithQuery } from '../dom.js';
import { field, segmented } from '../forms.js';

const LIMITS = [10, 25, 50, 100, 200];
const VIEWS = [
  ['text', 'Text'],
  ['json', 'JSON'],
  ['hex', 'Hex'],
];

/** "6b31…" as lines of 16 bytes: offset, hex pairs, printable ASCII. */
function hexDump(hex) {
  const lines = [];
  for (let at = 0; at < hex.length; at += 32) {
    const chunk = hex.slice(at, at + 32);
    const bytes = chunk.match(/../g) ?? [];
    const ascii = bytes.map((b) => {
      const c = parseInt(b, 16);
      return c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
    });
    lines.push(`${(at / 2).toString(16).padStart(6, '0')}  ${bytes.join(' ').padEnd(47)}  ${ascii.join('')}`);
  }
  return lines.join('\n');
}

/**
 * A key, value or header value in the chosen view; binary falls back to its raw form. Only
 * values are flagged when they are not JSON: keys and headers rarely are, and need no warning.
 */
function bytesView(b, view, { flagNotJson = false } = {}) {
  if (b === null) return h('span', { class: 'muted' }, 'null');
  if (b.size === 0) return h('span', { class: 'muted' }, 'empty');
  if (view === 'hex') return h('pre', null, hexDump(b.data));
  if (b.text === null) return [h('span', { class: 'badge warn' }, `binary, ${formatBytes(b.size)} (base64; use Hex to read it)`), h('pre', null, b.data)];
  if (view === 'json') {
    try {
      return h('pre', { class: 'json' }, JSON.stringify(JSON.parse(b.text), null, 2));
    } catch {
      if (flagNotJson) return [h('span', { class: 'badge warn' }, 'not JSON'), h('pre', null, b.text)];
    }
  }
  return h('pre', null, b.text);
}

function recordCard(r, view) {
  return h(
    'article',
    { class: 'record', 'aria-label': `Record at offset ${r.offset}` },
    h(
      'div',
      { class: 'record-head' },
      h('span', { class: 'offset' }, `offset ${r.offset}`),
      h('time', { datetime: new Date(r.timestamp).toISOString() }, formatTime(r.timestamp)),
      r.timestampType === 'log-append' ? h('span', { class: 'badge' }, 'log append time') : null,
      h('span', { class: 'muted' }, r.value ? formatBytes(r.value.size) : 'null value'),
    ),
    h(
      'dl',
      null,
      h('dt', null, 'Key'),
      h('dd', { class: 'record-key' }, bytesView(r.key, view)),
      h('dt', null, 'Value'),
      h('dd', { class: 'record-value' }, bytesView(r.value, view, { flagNotJson: true })),
      h('dt', null, 'Headers'),
      h(
        'dd',
        { class: 'record-headers' },
        r.headers.length === 0
          ? h('span', { class: 'muted' }, 'none')
          : h(
              'ul',
              { class: 'headers-list' },
              r.headers.map((hd) => h('li', null, h('code', { class: 'header-key' }, hd.key), bytesView(hd.value, view))),
            ),
      ),
    ),
  );
}

/** datetime-local wants local time without zone: "2024-05-01T12:30:00". */
function toLocalInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 19);
}

/** The message browser: pick a partition and a start (offset or time), read a page. */
export async function messagesPage({ root, query, alive }) {
  const topics = await getJson('/topics');
  if (!alive()) return;
  if (topics.length === 0) {
    replace(root, h('h1', { tabindex: '-1' }, 'Messages'), h('p', { class: 'muted' }, 'No topics yet. ', h('a', { href: route('topics') }, 'Create one')));
    return;
  }
  const wanted = query.get('topic');
  const initialTopic = topics.some((t) => t.name === wanted) ? wanted : (topics.find((t) => !t.internal) ?? topics[0]).name;
  const initialFrom = query.has('timestamp') ? 'timestamp' : query.has('offset') ? 'offset' : 'earliest';

  const topicSelect = h('select', { name: 'topic' }, topics.map((t) => h('option', { value: t.name, selected: t.name === initialTopic }, t.name)));
  const partitionSelect = h('select', { name: 'partition' });
  const fromSelect = h(
    'select',
    { name: 'from' },
    [
      ['earliest', 'Earliest'],
      ['latest', 'Latest'],
      ['offset', 'Offset'],
      ['timestamp', 'Time'],
    ].map(([v, text]) => h('option', { value: v, selected: v === initialFrom }, text)),
  );
  const offsetInput = h('input', { name: 'offset', type: 'number', min: 0, step: 1, value: query.get('offset') ?? '0' });
  const timeInput = h('input', { name: 'timestamp', type: 'datetime-local', step: 1, value: toLocalInput(Number(query.get('timestamp') ?? Date.now() - 3600_000)) });
  const limitSelect = h('select', { name: 'limit' }, LIMITS.map((n) => h('option', { value: n, selected: n === Number(query.get('limit') ?? 25) }, n)));
  const offsetField = field('Offset', offsetInput);
  const timeField = field('From time', timeInput, { hint: 'Your local time' });
  let view = VIEWS.some(([v]) => v === query.get('view')) ? query.get('view') : 'text';
  const results = h('section', { 'aria-live': 'polite', 'aria-busy': 'false', class: 'results' });

  let partitions = [];
  const partitionHint = h('span', { class: 'hint' });
  const loadPartitions = async (selected) => {
    const detail = await getJson(`/topics/${seg(topicSelect.value)}`);
    partitions = detail.partitionDetails;
    // Records are read from this broker's own logs: the partitions it holds no replica of are not offered.
    const missing = detail.partitions - partitions.length;
    partitionHint.textContent = missing > 0 ? `${missing} of ${detail.partitions} held by other brokers only: browse those in their consoles` : '';
    const range = (p) => (p.error ? `offline: ${p.error}` : `${formatNumber(p.logStartOffset)}–${formatNumber(p.highWatermark)}`);
    replace(partitionSelect, partitions.map((p) => h('option', { value: p.partition, selected: p.partition === selected }, `${p.partition}  (${range(p)})`)));
  };
  const showStartFields = () => {
    offsetField.hidden = fromSelect.value !== 'offset';
    timeField.hidden = fromSelect.value !== 'timestamp';
  };

  let lastStart = null;
  const load = async (start) => {
    const partition = Number(partitionSelect.value);
    const limit = Number(limitSelect.value);
    const params = { limit, encoding: view === 'hex' ? 'hex' : 'base64', ...start };
    // The address bar follows, so the page can be bookmarked or shared.
    history.replaceState(null, '', routeWithQuery(route('messages'), { topic: topicSelect.value, partition, limit, view, ...start }));
    lastStart = start;
    results.setAttribute('aria-busy', 'true');
    try {
      const page = await getJson(`/topics/${seg(topicSelect.value)}/partitions/${partition}/records?${new URLSearchParams(params)}`);
      if (!alive()) return;
      const first = page.records[0]?.offset;
      const last = page.records.at(-1)?.offset;
      replace(
        results,
        h(
          'p',
          { class: 'muted results-summary' },
          page.records.length === 0
            ? `No records from offset ${formatNumber(page.nextOffset)}. `
            : first === last
              ? `Offset ${formatNumber(first)}: 1 record. `
              : `Offsets ${formatNumber(first)}–${formatNumber(last)}: ${page.records.length} records. `,
          `Partition ${partition} holds ${formatNumber(page.logStartOffset)}–${formatNumber(page.highWatermark)}.`,
        ),
        h('div', { class: 'records' }, page.records.map((r) => recordCard(r, view))),
        page.nextOffset < page.highWatermark
          ? h('div', { class: 'form-actions' }, h('button', { type: 'button', onclick: () => load({ offset: page.nextOffset }) }, `Next page from offset ${formatNumber(page.nextOffset)}`))
          : null,
      );
    } catch (e) {
      if (alive()) replace(results, errorBox(e));
    } finally {
      results.setAttribute('aria-busy', 'false');
    }
  };

  const startFromForm = () => {
    const p = partitions.find((x) => x.partition === Number(partitionSelect.value));
    switch (fromSelect.value) {
      case 'latest':
        return { offset: Math.max(p?.logStartOffset ?? 0, (p?.highWatermark ?? 0) - Number(limitSelect.value)) };
      case 'offset':
        return { offset: Number(offsetInput.value || 0) };
      case 'timestamp':
        return { timestamp: new Date(timeInput.value).getTime() };
      default:
        return { offset: p?.logStartOffset ?? 0 };
    }
  };

  const form = h(
    'form',
    { class: 'panel', 'aria-label': 'Choose records' },
    h(
      'div',
      { class: 'fields' },
      field('Topic', topicSelect),
      field('Partition', partitionSelect, { hint: partitionHint }),
      field('Start', fromSelect),
      offsetField,
      timeField,
      field('Records', limitSelect),
    ),
    h(
      'div',
      { class: 'form-actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Load'),
      segmented('view', 'Show as', VIEWS, view, (v) => {
        view = v;
        if (lastStart) load(lastStart);
      }),
    ),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    // Fresh offsets, so Latest means latest now.
    await loadPartitions(Number(partitionSelect.value));
    await load(startFromForm());
  });
  topicSelect.addEventListener('change', () => loadPartitions(0));
  fromSelect.addEventListener('change', showStartFields);

  await loadPartitions(Number(query.get('partition') ?? 0));
  if (!alive()) return;
  showStartFields();
  replace(root, h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Messages')), form, results);
  if (query.has('topic')) await load(startFromForm());
}
