/**
 * TLS against plaintext: one compiled broker with a PLAINTEXT and an SSL listener, driven by
 * the librdkafka load generator (bench/broker/loadgen.c) over each in turn, in the same run:
 * produce and consume throughput, the broker's CPU per million messages, and produce latency.
 * Fetches on the SSL listener are copied through the process (sendfile cannot encrypt), so the
 * consume rows also measure what zero-copy is worth.
 *
 *   npm run bench:tls [-- --json[=file]]
 *
 * Environment:
 *   SLUICE_BENCH_TLS_MSGS       1 KiB messages per produce and consume phase (default 1,000,000)
 *   SLUICE_BENCH_LATENCY_RATE   msgs/s of the paced latency runs, 5 s long each (default 20,000)
 *   SLUICE_BENCH_NICE           run broker and load generator under nice -n N
 *   SLUICE_BENCH_DIR            parent of the scratch directory (default .bench/)
 */
import { startedListeners } from '../src/cli/broker-process.js';
import { formatHostPort } from '../src/config/listeners.js';
import { makeTestCertificates } from '../test/support/certificates.js';
import { envCount } from './support/env.js';
import { emitJsonReport, jsonTarget } from './support/json-report.js';
import { fmt, table } from './support/measure.js';
import { startBroker } from './broker/broker-process.js';
import { buildLoadgen } from './broker/loadgen.js';
import { runPhase, type PhaseResult, type PhaseSpec, type PhaseTarget } from './broker/phases.js';
import { beginBrokerRun } from './broker/run.js';

const MSGS = envCount('SLUICE_BENCH_TLS_MSGS', 1_000_000);
const LATENCY_RATE = envCount('SLUICE_BENCH_LATENCY_RATE', 20_000);
const LATENCY_SECONDS = 5;
const PROTOCOLS = ['PLAINTEXT', 'SSL'] as const;
type Protocol = (typeof PROTOCOLS)[number];

function specs(protocol: Protocol): PhaseSpec[] {
  const topic = `bench-${protocol.toLowerCase()}`;
  return [
    { name: `${protocol} produce 1 KiB acks=1`, kind: 'produce', topic, count: MSGS, size: 1024, acks: '1' },
    { name: `${protocol} consume 1 KiB`, kind: 'consume', topic, count: MSGS, size: 1024, consumers: 1 },
    { name: `${protocol} produce 100 B paced`, kind: 'produce', topic: `${topic}-paced`, count: LATENCY_RATE * LATENCY_SECONDS, size: 100, acks: '1', lingerMs: 0, rate: LATENCY_RATE },
  ];
}

interface TlsReport {
  date: string;
  command: string;
  seconds: number;
  machine: Record<string, string>;
  fetchTransfer: string;
  phases: PhaseResult[];
}

function formatReport(r: TlsReport): string {
  const us = (v: number | undefined): string => (v === undefined ? '-' : fmt(v / 1e3));
  const rows = r.phases.map((p) => [p.name, fmt(p.msgsPerSec), fmt(p.mbPerSec), fmt(p.broker.cpuSecondsPerMillion), fmt(p.broker.peakRssMB), us(p.latencyUs?.p50), us(p.latencyUs?.p99)]);
  const ratio = (kind: string): string => {
    const [plain, tls] = PROTOCOLS.map((proto) => r.phases.find((p) => p.name.startsWith(proto) && p.name.includes(kind)));
    return plain && tls ? `${fmt(tls.msgsPerSec / plain.msgsPerSec)}x the throughput, ${fmt(tls.broker.cpuSecondsPerMillion / plain.broker.cpuSecondsPerMillion)}x the broker CPU per message` : '-';
  };
  return [
    `TLS vs plaintext, ${r.date} (${fmt(r.seconds)} s; fetch transfer ${r.fetchTransfer} on PLAINTEXT, copy on SSL)`,
    ...Object.entries(r.machine).map(([k, v]) => `  ${k}: ${v}`),
    '',
    table(['phase', 'msgs/s', 'MB/s', 'broker CPU s/M msgs', 'broker RSS MB', 'p50 ms', 'p99 ms'], rows),
    '',
    `SSL produce: ${ratio('produce 1 KiB')}`,
    `SSL consume: ${ratio('consume 1 KiB')}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const json = jsonTarget(process.argv.slice(2));
  const { started, progress, ws, machineAtEnd } = beginBrokerRun('tls');
  const certs = makeTestCertificates([]);
  try {
    const loadgen = buildLoadgen(ws.dir);
    const bootstraps = new Map<string, string>();
    const broker = await startBroker({
      dataDir: ws.path('data'),
      partitions: 1,
      overrides: {
        listeners: 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0',
        'ssl.keystore.type': 'PEM',
        'ssl.keystore.location': certs.server.keystore,
      },
      onLog: (line) => {
        for (const l of startedListeners(line) ?? []) bootstraps.set(l.name, formatHostPort(l));
      },
    });
    const phases: PhaseResult[] = [];
    try {
      for (const protocol of PROTOCOLS) {
        const target: PhaseTarget = {
          bootstrap: bootstraps.get(protocol)!,
          brokerPids: [broker.pid],
          clientSettings: protocol === 'SSL' ? { 'security.protocol': 'ssl', 'ssl.ca.location': certs.ca.cert } : {},
        };
        for (const spec of specs(protocol)) {
          if (spec.kind === 'produce') ws.settle();
          progress(`${spec.name}: ${spec.count.toLocaleString('en-US')} msgs`);
          const phase = await runPhase(loadgen, target, spec);
          progress(`  ${fmt(phase.msgsPerSec)} msgs/s, ${fmt(phase.mbPerSec)} MB/s, broker ${fmt(phase.broker.cpuSecondsPerMillion)} s CPU/M msgs`);
          phases.push(phase);
        }
      }
    } finally {
      await broker.stop();
    }
    const report: TlsReport = {
      date: started.toISOString(),
      command: ['npm run bench:tls', ...process.argv.slice(2)].join(' '),
      seconds: (Date.now() - started.getTime()) / 1e3,
      machine: machineAtEnd(),
      fetchTransfer: broker.fetchTransfer,
      phases,
    };
    if (emitJsonReport(json, report)) return;
    console.log(formatReport(report));
  } finally {
    certs.remove();
    ws.cleanup();
  }
}

await main();
