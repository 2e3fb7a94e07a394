import { getJson, seg } from '../api.js';
import { barChart } from '../charts.js';
import { errorBox, formatNumber, formatTime, h, replace, route, stats, table } from '../dom.js';
import { poll } from '../poll.js';
import { stateBadge } from './groups.js';

const REFRESH_MS = 2000;

function assignmentText(assignment) {
  if (assignment === null) return h('span', { class: 'muted' }, 'not a consumer-protocol assignment');
  if (assignment.length === 0) return h('span', { class: 'muted' }, 'nothing assigned');
  return assignment.map((a, i) => [i > 0 ? h('br') : null, h('a', { href: route('topics', a.topic) }, a.topic), `: ${a.partitions.join(', ')}`]);
}

function membersTable(g) {
  return table(
    [
      { label: 'Member', value: (m) => [h('span', { class: 'mono' }, m.memberId), m.memberId === g.leaderId ? [' ', h('span', { class: 'badge accent' }, 'leader')] : null] },
      { label: 'Client id', value: (m) => m.clientId },
      { label: 'Host', value: (m) => h('span', { class: 'mono' }, m.clientHost) },
      { label: 'Assigned partitions', value: (m) => assignmentText(m.assignment) },
    ],
    g.memberDetails,
    { empty: 'No members: nobody is consuming with this group right now.', caption: 'Members' },
  );
}

function lagTable(g) {
  const owner = (id) => g.memberDetails.find((m) => m.memberId === id)?.clientId ?? id;
  return table(
    [
      { label: 'Topic', value: (p) => h('a', { href: route('topics', p.topic) }, p.topic) },
      { label: 'Partition', num: true, value: (p) => p.partition },
      { label: 'Committed', num: true, value: (p) => (p.committed === null ? '—' : formatNumber(p.committed)) },
      { label: 'High watermark', num: true, value: (p) => (p.highWatermark === null ? 'gone' : formatNumber(p.highWatermark)) },
      { label: 'Lag', num: true, value: (p) => (p.lag === null ? '—' : h('strong', null, formatNumber(p.lag))) },
      { label: 'Consumer', value: (p) => (p.memberId ? owner(p.memberId) : h('span', { class: 'muted' }, 'unassigned')) },
      { label: 'Committed at', value: (p) => (p.commitTimestamp === null ? '—' : formatTime(p.commitTimestamp)) },
    ],
    g.partitions,
    { empty: 'No committed offsets and no assignments.', caption: 'Lag by partition' },
  );
}

/** One group: who is in it, what each member reads, and how far behind each partition is. */
export async function groupPage({ root, params, alive }) {
  const body = h('div');
  replace(root, h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, h('span', { class: 'muted' }, 'Group '), params.id)), body);
  return poll({
    load: () => getJson(`/groups/${seg(params.id)}`),
    draw: (g) => {
      const withLag = g.partitions.filter((p) => p.lag !== null);
      replace(
        body,
        stats([
          ['State', stateBadge(g.state)],
          ['Protocol', `${g.protocolType ?? '—'}${g.protocol ? ` / ${g.protocol}` : ''}`, true],
          ['Generation', g.generationId],
          ['Members', g.members],
          ['Total lag', formatNumber(g.totalLag)],
        ]),
        h(
          'section',
          { class: 'panel' },
          h('h2', null, 'Lag by partition'),
          withLag.length > 0
            ? barChart(
                withLag.map((p) => ({ label: `${p.topic}-${p.partition}`, value: p.lag })),
                { label: `Lag per partition of group ${g.groupId}`, format: formatNumber },
              )
            : null,
          lagTable(g),
        ),
        h('section', { class: 'panel' }, h('h2', null, 'Members'), membersTable(g)),
      );
    },
    fail: (e) => replace(body, errorBox(e)),
    alive,
    intervalMs: REFRESH_MS,
  });
}
