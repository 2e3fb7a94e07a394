import { fmt } from '../support/measure.js';
import { MiB, sizeLabel } from '../support/resources.js';
import type { AppendReport } from './append.js';
import type { ServeReport } from './serve.js';

/** What the targets in docs/zero-copy.md ask for. */
const TARGETS = {
  appendVsRaw: 0.9,
  sendfileVsCopyCpu: 0.75,
  /**
   * "Far above" one fdatasync per append: at least this many times, for 1 KiB batches, where
   * fsync latency is the limit (64 in flight of 1 MiB each are bounded by disk bandwidth).
   */
  groupCommitGain: 5,
  groupCommitBatchBytes: 1024,
};

export interface Targets {
  appendVsRaw: { mode: string; ratio: number; met: boolean }[];
  sendfileVsCopyCpu: { ratio: number; met: boolean } | null;
  groupCommit: { case: string; ackedPerSec: number; oneFsyncPerSec: number; gain: number; met: boolean }[];
}

export function evaluateTargets(append: AppendReport | null, serve: ServeReport | null): Targets {
  const big = append?.cases.filter((c) => c.batchBytes === MiB && c.flush === 'async') ?? [];
  const copy = serve?.modes.find((m) => m.mode === 'copy');
  const sendfile = serve?.modes.find((m) => m.mode === 'sendfile');
  const sendfileRatio = copy && sendfile ? sendfile.serverCpuSecondsPerGiB / copy.serverCpuSecondsPerGiB : null;
  const sync = append?.cases.filter((c) => c.flush === 'sync' && c.batchBytes === TARGETS.groupCommitBatchBytes) ?? [];
  return {
    appendVsRaw: big.flatMap(({ mode, ratioToRaw: ratio }) => (ratio === null ? [] : [{ mode, ratio, met: ratio >= TARGETS.appendVsRaw }])),
    sendfileVsCopyCpu: sendfileRatio === null ? null : { ratio: sendfileRatio, met: sendfileRatio <= TARGETS.sendfileVsCopyCpu },
    groupCommit: sync.flatMap((c) => {
      if (!c.fsyncLoop) return [];
      const oneFsyncPerSec = c.fsyncLoop.opsPerSec;
      const gain = c.appendsPerSec / oneFsyncPerSec;
      return [{ case: `${sizeLabel(c.batchBytes)} ${c.mode}`, ackedPerSec: c.appendsPerSec, oneFsyncPerSec, gain, met: gain >= TARGETS.groupCommitGain }];
    }),
  };
}

export function formatTargets(t: Targets): string {
  const verdict = (met: boolean): string => (met ? 'met' : 'MISSED');
  const lines = ['Targets'];
  for (const a of t.appendVsRaw) {
    lines.push(`  1 MiB appends, ${a.mode} mode, >= ${TARGETS.appendVsRaw * 100}% of raw sequential write: ${Math.round(a.ratio * 100)}% -> ${verdict(a.met)}`);
  }
  if (t.sendfileVsCopyCpu) {
    lines.push(
      `  sendfile server CPU per GiB <= ${TARGETS.sendfileVsCopyCpu} x read+write: ${fmt(t.sendfileVsCopyCpu.ratio)} x -> ${verdict(t.sendfileVsCopyCpu.met)}`,
    );
  }
  for (const g of t.groupCommit) {
    lines.push(
      `  sync flush, ${g.case}: ${fmt(g.ackedPerSec)} acked appends/s vs ${fmt(g.oneFsyncPerSec)}/s at one fdatasync each (measured just before) ` +
        `= ${fmt(g.gain)} x (target >= ${TARGETS.groupCommitGain} x) -> ${verdict(g.met)}`,
    );
  }
  return lines.length > 1 ? lines.join('\n') : '';
}

