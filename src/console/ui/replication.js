import { h } from './dom.js';

/** Broker ids as a list, or a dash for none. */
export function brokerIds(ids) {
  return ids.length === 0 ? h('span', { class: 'muted' }, '—') : h('span', { class: 'mono' }, ids.join(', '));
}

export function leaderCell(p) {
  return p.offline ? h('span', { class: 'badge warn' }, 'none') : h('span', { class: 'mono' }, p.leader);
}

/** Offline, under-replicated or in sync, and a reassignment under way. */
export function stateCell(p) {
  const moving = [p.adding.length > 0 ? `adding ${p.adding.join(', ')}` : null, p.removing.length > 0 ? `removing ${p.removing.join(', ')}` : null].filter(Boolean);
  return [
    p.offline ? h('span', { class: 'badge warn' }, 'offline') : p.underReplicated ? h('span', { class: 'badge warn' }, 'under-replicated') : h('span', { class: 'badge ok' }, 'in sync'),
    moving.length > 0 ? [' ', h('span', { class: 'badge accent', title: 'A reassignment is under way' }, `reassigning: ${moving.join('; ')}`)] : null,
  ];
}

/** The columns of a partition's placement: who leads, who holds it, who is in sync. */
export const placementColumns = [
  { label: 'Leader', num: true, value: leaderCell },
  { label: 'Epoch', num: true, value: (p) => p.leaderEpoch },
  { label: 'Replicas', value: (p) => brokerIds(p.replicas) },
  { label: 'In sync', value: (p) => brokerIds(p.isr) },
  { label: 'Offline replicas', value: (p) => (p.offlineReplicas.length > 0 ? h('span', { class: 'badge warn' }, p.offlineReplicas.join(', ')) : brokerIds([])) },
  { label: 'State', value: stateCell },
];
