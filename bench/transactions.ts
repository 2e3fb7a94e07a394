/**
 * What transactions cost: a compiled broker in its own process, driven by librdkafka's
 * transactional producer and read_committed consumer (bench/transactions/txngen.c). Transactional
 * produce with 1000, 100 and 1 record per transaction against the same records from an
 * idempotent producer (acks=all) measured in the same run, before and after them (the baseline);
 * EndTxn commit latency; read_committed consume against read_uncommitted of the same topics; and
 * the broker's CPU and memory in each phase.
 *
 *   npm run bench:transactions [-- --json[=file]]
 *
 * Environment (the defaults keep the run to about a minute on 2 vCPUs):
 *   SLUICE_BENCH_TXN_RECORDS     100 B records of the idempotent and 1000-per-transaction phases (default 2,000,000)
 *   SLUICE_BENCH_TXN100_RECORDS  records of the 100-per-transaction phase (default 500,000)
 *   SLUICE_BENCH_TXN1_COUNT      transactions of one record each (default 3,000)
 *   SLUICE_BENCH_PARTITIONS      partitions per topic (default 2): a transaction of more than one record spans them all
 *   SLUICE_BENCH_CONSUMERS       librdkafka consumer threads per consume phase (default 2)
 *   SLUICE_BENCH_CONSUME_ROUNDS  reads of each topic per isolation level, alternating; the median counts (default 3)
 *   SLUICE_BENCH_BROKER_CONFIG   more broker settings, "key=value,key=value"
 *   SLUICE_BENCH_NICE            run broker and load generator under nice -n N (see bench/broker.ts)
 *   SLUICE_BENCH_DIR             parent of the scratch directory (default .bench/)
 */
import { loadavg } from 'node:os';
import { startBroker, type RunningBroker } from './broker/broker-process.js';
import { meterProcess } from './broker/proc.js';
import { beginBrokerRun } from './broker/run.js';
import { envCount, envSettings } from './support/env.js';
import { emitJsonReport, jsonTarget } from './support/json-report.js';
import { fmt, table } from './support/measure.js';
import type { Workspace } from './support/workspace.js';
import { buildTxngen, consumeTxn, produceTxn, type Isolation, type Percentiles, type TxnConsumeResult, type TxnProduceResult } from './transactions/txngen.js';

const RECORDS = envCount('SLUICE_BENCH_TXN_RECORDS', 2_000_000);
const RECORDS_100 = envCount('SLUICE_BENCH_TXN100_RECORDS', 500_000);
const TXNS_1 = envCount('SLUICE_BENCH_TXN1_COUNT', 3_000);
const PARTITIONS = envCount('SLUICE_BENCH_PARTITIONS', 2);
const CONSUMERS = Math.min(envCount('SLUICE_BENCH_CONSUMERS', 2), PARTITIONS);
const SETTINGS = envSettings('SLUICE_BENCH_BROKER_CONFIG');
const SIZE = 100;
/** The topic read_committed reads around aborted transactions: every 10th of its 1000-record transactions aborted. */
const ABORT_EVERY = 10;
/** Reads of each topic with each isolation level, alternating; the median is reported. */
const CONSUME_ROUNDS = envCount('SLUICE_BENCH_CONSUME_ROUNDS', 3);

interface Phase {
  name: string;
  kind: 'produce' | 'consume';
  topic: string;
  /** Records written (produce) or read (consume). */
  msgs: number;
  /** Of a produce phase: records in committed transactions (all of them for the idempotent producer). */
  committedMsgs: number;
  transactions: number;
  seconds: number;
  msgsPerSec: number;
  mbPerSec: number;
  /** Produce: records/s against the idempotent baseline's mean; read_committed: read_uncommitted's time to read the same topic over its own. */
  ratio: number | null;
  ratioOf: string | null;
  commitMs: { p50: number; p99: number; p999: number; max: number } | null;
  transactionMs: { p50: number; p99: number } | null;
  broker: { cpuUserSeconds: number; cpuSystemSeconds: number; cpuSecondsPerMillion: number; peakRssMB: number };
  txngenCpuSeconds: number;
  /** CPU time of other processes over the phase, as a share of the machine. */
  othersShare: number;
  loadAverage: number;
  /** Of a consume phase: records/s of each of its rounds; the phase's figures are the median round's. */
  rounds?: number[];
}

interface TransactionsBenchReport {
  date: string;
  command: string;
  seconds: number;
  machine: Record<string, string>;
  broker: { fetchTransfer: string; nativeAddon: string; partitions: number; consumers: number; settings: Record<string, string> };
  phases: Phase[];
}

const ms = (p: Percentiles): { p50: number; p99: number; p999: number; max: number } => ({ p50: p.p50 / 1e3, p99: p.p99 / 1e3, p999: p.p999 / 1e3, max: p.max / 1e3 });

class Run {
  readonly phases: Phase[] = [];

  constructor(
    private readonly broker: RunningBroker,
    private readonly txngen: string,
    private readonly ws: Workspace,
    private readonly progress: (line: string) => void,
  ) {}

  private async metered<T extends TxnProduceResult | TxnConsumeResult>(work: () => Promise<T>): Promise<{ result: T; usage: ReturnType<ReturnType<typeof meterProcess>['stop']> }> {
    const meter = meterProcess(this.broker.pid);
    try {
      const result = await work();
      return { result, usage: meter.stop() };
    } catch (e) {
      meter.stop();
      throw e;
    }
  }

  private measured(name: string, kind: Phase['kind'], r: TxnProduceResult | TxnConsumeResult, usage: ReturnType<ReturnType<typeof meterProcess>['stop']>): Phase {
    const brokerCpu = usage.cpu.userSeconds + usage.cpu.systemSeconds;
    const txngenCpu = r.cpuUserSeconds + r.cpuSystemSeconds;
    const phase: Phase = {
      name,
      kind,
      topic: r.topic,
      msgs: r.msgs,
      committedMsgs: r.mode === 'produce' ? r.committedMsgs : r.msgs,
      transactions: r.mode === 'produce' ? r.transactions : 0,
      seconds: r.seconds,
      msgsPerSec: r.msgs / r.seconds,
      mbPerSec: r.bytes / r.seconds / 1e6,
      ratio: null,
      ratioOf: null,
      commitMs: r.mode === 'produce' && r.commitUs.count > 0 ? ms(r.commitUs) : null,
      transactionMs: r.mode === 'produce' && r.transactionUs.count > 0 ? { p50: r.transactionUs.p50 / 1e3, p99: r.transactionUs.p99 / 1e3 } : null,
      broker: { cpuUserSeconds: usage.cpu.userSeconds, cpuSystemSeconds: usage.cpu.systemSeconds, cpuSecondsPerMillion: (brokerCpu / r.msgs) * 1e6, peakRssMB: usage.peakRssMB },
      txngenCpuSeconds: txngenCpu,
      othersShare: Math.max(0, usage.machineBusySeconds - brokerCpu - txngenCpu) / usage.machineTotalSeconds,
      loadAverage: loadavg()[0],
    };
    return phase;
  }

  private record(phase: Phase): Phase {
    const commit = phase.commitMs ? `, commit p50 ${fmt(phase.commitMs.p50)} ms p99 ${fmt(phase.commitMs.p99)} ms` : '';
    const rounds = phase.rounds ? ` (median of ${phase.rounds.map((x) => fmt(x)).join(' / ')})` : '';
    this.progress(`  ${phase.name}: ${fmt(phase.msgsPerSec)} records/s${rounds}, ${fmt(phase.mbPerSec)} MB/s${commit}, broker ${fmt(phase.broker.cpuSecondsPerMillion)} s CPU/M records`);
    this.phases.push(phase);
    return phase;
  }

  async produce(name: string, topic: string, count: number, txnRecords: number, abortEvery = 0): Promise<Phase> {
    // Each produce phase starts with no dirty pages left by the one before.
    this.ws.settle();
    this.progress(`${name}: ${count.toLocaleString('en-US')} records`);
    const { result, usage } = await this.metered(() => produceTxn(this.txngen, this.broker.bootstrap, { topic, count, size: SIZE, txnRecords, abortEvery, transactionalId: `bench-${topic}` }));
    if (result.failed > 0) throw new Error(`${name}: ${result.failed} records failed, first with ${result.firstError}`);
    return this.record(this.measured(name, 'produce', result, usage));
  }

  /**
   * Reads `topic` from its start with each isolation level in turn, CONSUME_ROUNDS times (a
   * read takes about a second, short enough for other work on the machine to tilt one): each
   * level's phase is its median round.
   */
  async consumeBoth(label: string, topic: string, all: number, committed: number): Promise<{ uncommitted: Phase; committed: Phase }> {
    const rounds: Record<Isolation, Phase[]> = { read_uncommitted: [], read_committed: [] };
    for (let round = 0; round < CONSUME_ROUNDS; round++) {
      for (const isolation of ['read_uncommitted', 'read_committed'] as const) {
        const count = isolation === 'read_committed' ? committed : all;
        const name = `consume ${label}, ${isolation}`;
        if (round === 0) this.progress(`${name}: ${count.toLocaleString('en-US')} records, ${CONSUME_ROUNDS} rounds`);
        const { result, usage } = await this.metered(() => consumeTxn(this.txngen, this.broker.bootstrap, topic, count, isolation, CONSUMERS));
        if (result.errors > 0) throw new Error(`${name}: ${result.errors} consume errors`);
        rounds[isolation].push(this.measured(name, 'consume', result, usage));
      }
    }
    const median = (phases: Phase[]): Phase => {
      const sorted = [...phases].sort((a, b) => a.msgsPerSec - b.msgsPerSec);
      return this.record({ ...sorted[Math.floor(sorted.length / 2)], rounds: phases.map((p) => p.msgsPerSec) });
    };
    return { uncommitted: median(rounds.read_uncommitted), committed: median(rounds.read_committed) };
  }
}

async function measure(txngen: string, ws: Workspace, progress: (line: string) => void): Promise<{ phases: Phase[]; broker: TransactionsBenchReport['broker'] }> {
  const broker = await startBroker({ dataDir: ws.path('data'), partitions: PARTITIONS, overrides: SETTINGS });
  const run = new Run(broker, txngen, ws, progress);
  try {
    // Not reported: the broker's JIT warms up on the produce path, and __transaction_state is created.
    progress('warm-up: idempotent and transactional produce, not reported');
    await produceTxn(txngen, broker.bootstrap, { topic: 'warm-up', count: Math.max(50_000, Math.round(RECORDS / 10)), size: SIZE, txnRecords: 0 });
    await produceTxn(txngen, broker.bootstrap, { topic: 'warm-up-txn', count: 20_000, size: SIZE, txnRecords: 100, transactionalId: 'bench-warm-up' });
    const first = await run.produce('idempotent (baseline)', 'idempotent', RECORDS, 0);
    const produced = [
      await run.produce('transactions of 1000', 'txn-1000', RECORDS, 1000),
      await run.produce('transactions of 100', 'txn-100', RECORDS_100, 100),
      await run.produce('transactions of 1', 'txn-1', TXNS_1, 1),
    ];
    const last = await run.produce('idempotent (baseline again)', 'idempotent-again', RECORDS, 0);
    const baseline = (first.msgsPerSec + last.msgsPerSec) / 2;
    for (const p of produced) Object.assign(p, { ratio: p.msgsPerSec / baseline, ratioOf: 'idempotent (mean of both runs)' });
    const aborts = await run.produce(`transactions of 1000, every ${ABORT_EVERY}th aborted`, 'txn-aborts', RECORDS, 1000, ABORT_EVERY);
    Object.assign(aborts, { ratio: aborts.msgsPerSec / baseline, ratioOf: 'idempotent (mean of both runs)' });

    for (const [label, topic, all, committed] of [
      ['no transactions', 'idempotent', first.msgs, first.msgs],
      ['transactions of 1000', 'txn-1000', RECORDS, RECORDS],
      [`every ${ABORT_EVERY}th transaction aborted`, 'txn-aborts', aborts.msgs, aborts.committedMsgs],
    ] as const) {
      const both = await run.consumeBoth(label, topic, all, committed);
      // By time to read the whole log: read_committed delivers fewer records where transactions were aborted, but reads (and skips) them all the same.
      Object.assign(both.committed, { ratio: both.uncommitted.seconds / both.committed.seconds, ratioOf: 'read_uncommitted of the same topic: time to read it all (medians)' });
    }
  } finally {
    await broker.stop();
  }
  return { phases: run.phases, broker: { fetchTransfer: broker.fetchTransfer, nativeAddon: broker.nativeAddon, partitions: PARTITIONS, consumers: CONSUMERS, settings: SETTINGS } };
}

function formatReport(r: TransactionsBenchReport): string {
  const pair = (a: number, b: number): string => `${fmt(a)} / ${fmt(b)}`;
  const rows = r.phases.map((p) => [
    p.name,
    p.msgs.toLocaleString('en-US'),
    p.transactions ? p.transactions.toLocaleString('en-US') : '-',
    fmt(p.msgsPerSec),
    fmt(p.mbPerSec),
    p.ratio === null ? '-' : `${(p.ratio * 100).toFixed(1)}%`,
    p.commitMs ? pair(p.commitMs.p50, p.commitMs.p99) : '-',
    p.transactionMs ? pair(p.transactionMs.p50, p.transactionMs.p99) : '-',
    fmt(p.broker.cpuSecondsPerMillion),
    fmt(p.broker.peakRssMB),
    fmt(p.txngenCpuSeconds),
    `${(p.othersShare * 100).toFixed(0)}%`,
    fmt(p.loadAverage),
  ]);
  const header = ['phase', 'records', 'txns', 'records/s', 'MB/s', 'vs baseline', 'commit p50/p99 ms', 'txn p50/p99 ms', 'broker CPU s/M', 'broker RSS MB', 'txngen CPU s', 'others CPU', 'load'];
  const m = r.machine;
  return [
    `Transactions benchmark, ${r.date} (${fmt(r.seconds)} s): ${r.command}`,
    `machine: ${m.cpus}, ${m.memory}, ${m.fsType}, node ${m.node}, kernel ${m.kernel}; load ${m.loadAverageAtStart} -> ${m.loadAverageAtEnd}; ${m.priority}`,
    `broker: ${r.broker.partitions} partitions per topic, ${SIZE} B records, fetch ${r.broker.fetchTransfer}, native addon ${r.broker.nativeAddon}; ${r.broker.consumers} consumer threads`,
    '',
    table(header, rows),
    '',
    'vs baseline: produce phases against the idempotent producer (acks=all, same records, mean of the two runs);',
    `read_committed against read_uncommitted of the same topic, by the time each takes to read it all (medians of ${CONSUME_ROUNDS} alternating reads).`,
    'commit: rd_kafka_commit_transaction once every record is delivered (EndTxn); txn: begin to commit.',
    'broker RSS: peak within the phase.',
  ].join('\n');
}

async function main(): Promise<void> {
  const json = jsonTarget(process.argv.slice(2));
  const { started, progress, ws, machineAtEnd } = beginBrokerRun('transactions');
  try {
    const txngen = buildTxngen(ws.dir);
    const { phases, broker } = await measure(txngen, ws, progress);
    const report: TransactionsBenchReport = {
      date: started.toISOString(),
      command: ['npm run bench:transactions', ...process.argv.slice(2)].join(' '),
      seconds: (Date.now() - started.getTime()) / 1e3,
      machine: machineAtEnd(),
      broker,
      phases,
    };
    if (emitJsonReport(json, report)) return;
    console.log(formatReport(report));
  } finally {
    ws.cleanup();
  }
}

await main();
