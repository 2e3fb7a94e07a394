import { getJson } from '../api.js';
import { formatNumber, h, replace, route, table } from '../dom.js';

export function stateBadge(state) {
  return h('span', { class: `badge ${state === 'Stable' ? 'ok' : state === 'Empty' ? '' : 'warn'}` }, state);
}

export async function groupsPage({ root, alive }) {
  const groups = await getJson('/groups');
  if (!alive()) return;
  replace(
    root,
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Consumer groups'), h('span', { class: 'muted' }, `${groups.length} in all`)),
    h(
      'section',
      { class: 'panel' },
      table(
        [
          { label: 'Group', value: (g) => h('a', { href: route('groups', g.groupId) }, g.groupId) },
          { label: 'State', value: (g) => stateBadge(g.state) },
          { label: 'Protocol', value: (g) => [g.protocolType ?? '—', g.protocol ? ` / ${g.protocol}` : ''] },
          { label: 'Members', num: true, value: (g) => formatNumber(g.members) },
          { label: 'Total lag', num: true, value: (g) => formatNumber(g.totalLag) },
        ],
        groups,
        { empty: 'No consumer groups yet.', caption: 'Consumer groups' },
      ),
    ),
  );
}
