import { getJson, postJson } from '../api.js';
import { formatBytes, formatNumber, h, replace, route, table } from '../dom.js';
import { field, onSubmit, parseKeyValueLines } from '../forms.js';

function createTopicForm({ navigate, toast }) {
  const form = h(
    'form',
    { class: 'panel', 'aria-labelledby': 'create-topic-title' },
    h('h2', { id: 'create-topic-title' }, 'Create a topic'),
    h(
      'div',
      { class: 'fields' },
      field('Name', h('input', { name: 'name', required: true, pattern: '[a-zA-Z0-9._\\-]+', maxlength: 249, autocomplete: 'off', spellcheck: 'false' }), {
        hint: 'Letters, digits, . _ -',
      }),
      field('Partitions', h('input', { name: 'partitions', type: 'number', min: 1, step: 1, placeholder: 'broker default' })),
      field('Replication factor', h('input', { name: 'replicationFactor', type: 'number', min: 1, step: 1, placeholder: 'broker default' })),
      field('Configs', h('textarea', { name: 'configs', rows: 3, placeholder: 'retention.ms=86400000\ncleanup.policy=compact', spellcheck: 'false' }), {
        hint: 'Optional overrides, one name=value per line',
        wide: true,
      }),
    ),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create topic')),
  );
  onSubmit(form, async (data) => {
    const name = data.get('name').trim();
    const body = { name, configs: Object.fromEntries(parseKeyValueLines(data.get('configs'), 'Configs')) };
    for (const count of ['partitions', 'replicationFactor']) if (data.get(count) !== '') body[count] = Number(data.get(count));
    await postJson('/topics', body);
    toast(`Topic ${name} created`);
    navigate(route('topics', name));
  });
  return form;
}

export async function topicsPage(ctx) {
  const { root, alive } = ctx;
  const topics = await getJson('/topics');
  if (!alive()) return;
  replace(
    root,
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Topics'), h('span', { class: 'muted' }, `${topics.length} in all`)),
    h(
      'section',
      { class: 'panel' },
      table(
        [
          {
            label: 'Name',
            value: (t) => [
              h('a', { href: route('topics', t.name) }, t.name),
              t.internal ? [' ', h('span', { class: 'badge' }, 'internal')] : null,
              t.offline ? [' ', h('span', { class: 'badge warn' }, `${t.offline} offline`)] : null,
              t.underReplicated ? [' ', h('span', { class: 'badge warn' }, `${t.underReplicated} under-replicated`)] : null,
            ],
          },
          { label: 'Partitions', num: true, value: (t) => formatNumber(t.partitions) },
          // Records and size are this broker's: in a cluster, of the partitions it holds.
          { label: 'Held here', num: true, value: (t) => (t.replicasHere === t.partitions ? 'all' : formatNumber(t.replicasHere)) },
          { label: 'Records', num: true, value: (t) => formatNumber(t.records) },
          { label: 'Size', num: true, value: (t) => formatBytes(t.size) },
          { label: 'Overrides', num: true, value: (t) => (t.overrides ? h('span', { class: 'badge accent' }, t.overrides) : '—') },
        ],
        topics,
        { empty: 'No topics yet: create one below.', caption: 'Topics' },
      ),
    ),
    createTopicForm(ctx),
  );
}
