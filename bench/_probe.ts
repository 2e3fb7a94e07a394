import { closeSync, openSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { openWorkspace } from './support/workspace.js';
import { openLog, testConfig } from '../test/support/storage-fixtures.js';
import { batchOfSize } from './storage/batches.js';
const ws = openWorkspace('probe');
const M = 2 ** 20, N = 512;
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
function raw() { const b = randomFillSync(Buffer.alloc(M)); const fd = openSync(ws.path('raw'), 'w'); for (let i = 0; i < N; i++) writeSync(fd, b, 0, M, i * M); closeSync(fd); ws.remove('raw'); }
function app(mode: 'write'|'mmap') { const log = openLog(ws.path('l'), testConfig({ appendMode: mode, segmentBytes: 128 * M })); const b = batchOfSize(M); const o = { leaderEpoch: 0, now: Date.now(), assignOffsets: true }; for (let i = 0; i < N; i++) log.append(b, o); log.deleteAll(); }
async function t(name: string, f: () => void) { ws.settle(); raw(); const c0 = cpu(), t0 = performance.now(); f(); const dt = performance.now() - t0, dc = cpu() - c0; console.log(name.padEnd(6), 'wall ms', dt.toFixed(0), 'cpu ms', (dc * 1000).toFixed(0), 'MB/s', (N * M / 1e6 / (dt / 1000)).toFixed(0)); await new Promise(r => setTimeout(r, 10)); }
for (let r = 0; r < 4; r++) { await t('raw', raw); await t('write', () => app('write')); await t('mmap', () => app('mmap')); }
