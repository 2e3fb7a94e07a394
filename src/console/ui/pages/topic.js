import { getJson, postJson, seg } from '../api.js';
import { alarming, formatBytes, formatNumber, h, replace, route, routeWithQuery, stats, table } from '../dom.js';
import { field, onSubmit, parseKeyValueLines } from '../forms.js';
import { placementColumns } from '../replication.js';

const browseLink = (topic, partition, offset) => routeWithQuery(route('messages'), { topic, partition, offset });

/** An offline partition has no log to show, only its error. */
const served = (value) => (p) => (p.error ? '' : value(p));

function followersText(p) {
  if (p.followers.length === 0) return '';
  return p.followers.map((f, i) => [
    i > 0 ? h('br') : null,
    h('span', { class: 'mono' }, `${f.id}: `),
    f.lag === null ? h('span', { class: 'muted' }, 'not fetched yet') : `${formatNumber(f.lag)} behind`,
    f.inSync ? null : [' ', h('span', { class: 'badge warn' }, 'out of sync')],
  ]);
}

/** The replicas this broker holds: their logs, and how each keeps up. */
function partitionsTable(topic) {
  // Lag and followers mean nothing to a partition with one replica: no columns for them then.
  const replicated = topic.partitionDetails.some((p) => p.role === 'follower' || p.followers?.length > 0);
  const columns = [
    { label: 'Partition', num: true, value: (p) => p.partition },
    { label: 'Role', value: (p) => (p.error || p.role === 'offline' ? h('span', { class: 'badge warn' }, 'offline') : p.role === 'leader' ? h('span', { class: 'badge accent' }, 'leader') : p.role) },
    { label: 'Start offset', num: true, value: served((p) => formatNumber(p.logStartOffset)) },
    { label: 'End offset', num: true, value: served((p) => formatNumber(p.logEndOffset)) },
    { label: 'High watermark', num: true, value: served((p) => formatNumber(p.highWatermark)) },
    { label: 'Records', num: true, value: served((p) => formatNumber(p.highWatermark - p.logStartOffset)) },
    replicated ? { label: 'Lag', num: true, value: served((p) => (p.role === 'follower' ? formatNumber(p.lag) : '—')) } : null,
    replicated ? { label: 'Followers', value: served(followersText) } : null,
    { label: 'Size', num: true, value: served((p) => formatBytes(p.size)) },
    { label: 'Segments', num: true, value: served((p) => p.segments.length) },
    { label: 'Segment base offsets', value: (p) => (p.error ? h('span', { class: 'badge warn' }, `offline: ${p.error}`) : h('span', { class: 'mono' }, p.segments.join(', '))) },
    { label: '', value: served((p) => h('a', { href: browseLink(topic.name, p.partition), 'aria-label': `Browse partition ${p.partition}` }, 'Browse')) },
  ];
  return table(
    columns.filter(Boolean),
    topic.partitionDetails,
    { empty: 'This broker holds no replica of this topic.', caption: `Partitions of ${topic.name}` },
  );
}

/** Where each partition lives in the cluster. */
function placementTable(topic) {
  return table([{ label: 'Partition', num: true, value: (p) => p.partition }, ...placementColumns], topic.placement, { caption: `Replicas of ${topic.name}` });
}

/** The partitions this broker has no replica of, which it cannot show the logs of. */
function elsewhere(topic) {
  const here = new Set(topic.partitionDetails.map((p) => p.partition));
  const others = topic.placement.filter((p) => !here.has(p.partition));
  if (others.length === 0) return null;
  const list = others.map((p) => p.partition).join(', ');
  return h('p', { class: 'muted' }, `${others.length === 1 ? 'Partition' : 'Partitions'} ${list}: no replica on this broker. Their logs show in the consoles of the brokers that hold them (see above).`);
}

function configsSection(configs) {
  const body = h('div');
  const show = (onlyOverrides) =>
    replace(
      body,
      table(
        [
          { label: 'Name', value: (c) => h('span', { class: 'mono', title: c.documentation ?? '' }, c.name) },
          { label: 'Value', value: (c) => h('span', { class: 'mono' }, c.value ?? 'null') },
          { label: 'Source', value: (c) => (c.overridden ? h('span', { class: 'badge accent' }, 'topic override') : h('span', { class: 'muted' }, c.source.toLowerCase().replaceAll('_', ' '))) },
        ],
        onlyOverrides ? configs.filter((c) => c.overridden) : configs,
        { empty: 'This topic overrides nothing: every value is the broker’s.', caption: 'Configs' },
      ),
    );
  show(false);
  return h(
    'section',
    { class: 'panel' },
    h(
      'div',
      { class: 'page-head' },
      h('h2', null, 'Configs'),
      h('label', { class: 'inline' }, h('input', { type: 'checkbox', onchange: (e) => show(e.target.checked) }), ' Only overrides'),
    ),
    body,
  );
}

function produceForm(topic, { toast }, reload) {
  const partitionSelect = h(
    'select',
    { name: 'partition' },
    h('option', { value: '' }, 'Automatic (by key)'),
    topic.placement.map((p) => h('option', { value: p.partition }, `Partition ${p.partition}`)),
  );
  const form = h(
    'form',
    { class: 'panel', 'aria-labelledby': 'produce-title' },
    h('h2', { id: 'produce-title' }, 'Produce a test message'),
    h(
      'div',
      { class: 'fields' },
      field('Partition', partitionSelect),
      field('Key', h('input', { name: 'key', autocomplete: 'off', spellcheck: 'false', placeholder: 'none' })),
      field('Value', h('textarea', { name: 'value', rows: 4, spellcheck: 'false', placeholder: '{"hello": "world"}' }), { wide: true }),
      field('Headers', h('textarea', { name: 'headers', rows: 2, spellcheck: 'false', placeholder: 'source=console' }), { hint: 'One name=value per line', wide: true }),
      h('label', { class: 'inline wide' }, h('input', { type: 'checkbox', name: 'tombstone' }), ' Null value (a tombstone, for compacted topics)'),
    ),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, 'Produce')),
  );
  onSubmit(form, async (data) => {
    const key = data.get('key');
    const body = {
      key: key === '' ? null : key,
      value: data.get('tombstone') ? null : data.get('value'),
      headers: parseKeyValueLines(data.get('headers'), 'Headers').map(([k, value]) => ({ key: k, value })),
    };
    if (data.get('partition') !== '') body.partition = Number(data.get('partition'));
    const r = await postJson(`/topics/${seg(topic.name)}/records`, body);
    toast(`Produced to partition ${r.partition} at offset ${r.offset}`);
    await reload();
    return h('p', { class: 'success' }, `Produced to partition ${r.partition} at offset ${r.offset}. `, h('a', { href: browseLink(topic.name, r.partition, r.offset) }, 'View it in the message browser'));
  });
  return form;
}

/** One topic: where its partitions live, the logs of those on this broker, its configs, and a form to produce to it. */
export async function topicPage(ctx) {
  const { root, params, alive } = ctx;
  const topic = await getJson(`/topics/${seg(params.name)}`);
  if (!alive()) return;
  const summary = h('div');
  const partitions = h('div');
  const placement = h('div');
  const show = (t) => {
    // Records and size add up what this broker holds, which in a cluster may be some partitions only.
    const here = t.replicasHere < t.partitions ? h('span', { class: 'aside' }, `in ${t.replicasHere} of ${t.partitions} partitions here`) : null;
    replace(
      summary,
      stats([
        ['Partitions', t.partitions],
        ['Records', [formatNumber(t.records), here]],
        ['Size', [formatBytes(t.size), here]],
        ['Offline', alarming(t.offline)],
        ['Under-replicated', alarming(t.underReplicated)],
        ['Topic id', t.id, true],
      ]),
    );
    replace(placement, placementTable(t));
    replace(partitions, partitionsTable(t), elsewhere(t));
  };
  const reload = async () => {
    const fresh = await getJson(`/topics/${seg(params.name)}`);
    if (alive()) show(fresh);
  };
  show(topic);
  const firstHere = topic.partitionDetails.find((p) => !p.error);
  replace(
    root,
    h(
      'div',
      { class: 'page-head' },
      h('h1', { tabindex: '-1' }, h('span', { class: 'muted' }, 'Topic '), topic.name),
      topic.internal ? h('span', { class: 'badge' }, 'internal') : null,
      firstHere ? h('div', { class: 'actions' }, h('a', { class: 'button', href: browseLink(topic.name, firstHere.partition) }, 'Browse messages')) : null,
    ),
    summary,
    h('section', { class: 'panel' }, h('h2', null, 'Replicas and leaders'), placement),
    h('section', { class: 'panel' }, h('h2', null, 'Partitions on this broker'), partitions),
    produceForm(topic, ctx, reload),
    configsSection(topic.configs),
  );
}
