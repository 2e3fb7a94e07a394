import { fmt, table } from '../support/measure.js';
import { sizeLabel } from '../support/resources.js';
import { INTERLEAVE_BYTES, type AppendCaseResult, type AppendReport } from './append.js';

const pct = (ratio: number | null): string => (ratio === null ? '-' : `${Math.round(ratio * 100)}%`);
const ms = (us: number | null): string => fmt(us === null ? null : us / 1e3);
const count = (n: number): string => n.toLocaleString('en-US');
const label = (c: AppendCaseResult): string => `${sizeLabel(c.batchBytes)} ${c.mode}`;

export function formatAppendReport(r: AppendReport): string {
  const o = r.options;
  const asyncCases = r.cases.filter((c) => c.flush === 'async');
  const syncCases = r.cases.filter((c) => c.flush === 'sync');
  const sizes = o.sizes.map((s) => `${sizeLabel(s.bytes)} of ${sizeLabel(s.batchBytes)} batches`).join(', ');
  return [
    `1. Append through PartitionLog: ${sizes}; segment.bytes ${sizeLabel(o.segmentBytes)}.`,
    'Timed from log open, so segment creation and rolls count (mmap: a next segment is prepared off the loop). Every run is',
    'preceded by sync(1) and an unmeasured write+delete of its size, so all find the page cache in the same state.',
    `"raw" = writeSync of 1 MiB buffers to a second file in the same directory, ${sizeLabel(INTERLEAVE_BYTES)} after every`,
    `${sizeLabel(INTERLEAVE_BYTES)} appended, timed apart: the same total size under the same conditions (median ${fmt(r.rawMbPerSec)} MB/s).`,
    '"CPU vs raw" = raw CPU seconds / append CPU seconds for the same bytes.',
    '',
    `async flush (page cache; one appender; the median of ${o.repeats} runs by ratio to raw):`,
    table(
      ['batch / mode', 'appends', 'MB/s', 'raw MB/s', 'vs raw', '(min-max)', 'CPU vs raw', 'batches/s', 'p50 µs', 'p99 µs', 'max ms', 'CPU s', 'RSS MiB'],
      asyncCases.map((c) => [
        label(c),
        count(c.appends),
        fmt(c.mbPerSec),
        fmt(c.raw?.mbPerSec ?? null),
        pct(c.ratioToRaw),
        c.ratioRange === null ? '-' : `${pct(c.ratioRange[0])}-${pct(c.ratioRange[1])}`,
        pct(c.cpuRatioToRaw),
        fmt(c.appendsPerSec),
        fmt(c.appendP50Us),
        fmt(c.appendP99Us),
        ms(c.appendMaxUs),
        fmt(c.cpuSeconds),
        fmt(c.rssMiB),
      ]),
    ),
    '',
    `sync flush (group commit; ${o.syncInFlight} appends in flight; a run stops at the sizes above or after ${o.syncSeconds} s).`,
    '"1-fsync/s" = a loop of writeSync 4 KiB + fdatasyncSync for 1 s just before the run: one fdatasync per append.',
    table(
      ['batch / mode', 'acked', 'MB/s', 'acked/s', '1-fsync/s', 'gain', 'append p50 µs', 'ack p50 µs', 'ack p99 µs', 'ack max ms', 'commits', 'fdatasyncs', 'fdatasync p50/p99 µs', 'acks/commit', 'CPU s'],
      syncCases.map((c) => [
        label(c),
        count(c.appends),
        fmt(c.mbPerSec),
        fmt(c.appendsPerSec),
        fmt(c.fsyncLoop?.opsPerSec ?? null),
        c.fsyncLoop ? `${fmt(c.appendsPerSec / c.fsyncLoop.opsPerSec)}x` : '-',
        fmt(c.appendP50Us),
        fmt(c.ackP50Us),
        fmt(c.ackP99Us),
        ms(c.ackMaxUs),
        count(c.groupCommits),
        count(c.fdatasync.calls),
        `${fmt(c.fdatasync.p50Us)}/${fmt(c.fdatasync.p99Us)}`,
        fmt(c.appends / Math.max(1, c.groupCommits)),
        fmt(c.cpuSeconds),
      ]),
    ),
  ].join('\n');
}
