/**
 * Sluice next to its peers in the same run: the same load (sizes, counts, paced rate) against
 * Sluice (librdkafka in C), Redis Streams with its append-only file (hiredis in C) and NATS
 * JetStream on its file store (NATS's JavaScript client), each server started here on
 * 127.0.0.1 with its data in the scratch directory and stopped before the next, and its CPU
 * read from /proc. Peers that are not installed are reported as missing, with the command
 * that installs them.
 *
 *   npm run bench:peers [-- --json[=file]]
 *
 * Environment:
 *   SLUICE_BENCH_PEERS_MSGS_100      100 B messages produced, then consumed (default 1,000,000)
 *   SLUICE_BENCH_PEERS_MSGS_1K       1 KiB messages (default 300,000)
 *   SLUICE_BENCH_PEERS_MAX_SECONDS   a peer's produce run stops sending after this long (default 15)
 *   SLUICE_BENCH_PEERS_RATE          msgs/s of the paced latency run, 100 B (default 10,000)
 *   SLUICE_BENCH_PEERS_PACED_SECONDS its length (default 5)
 *   SLUICE_BENCH_PEERS               which servers, comma-separated (default all: sluice, sluice sync,
 *                                    redis everysec, redis always, nats)
 *   SLUICE_BENCH_NICE                servers and generators under nice -n N (e.g. -10 on a busy box)
 *   SLUICE_BENCH_DIR                 parent of the scratch directory (default .bench/)
 */
import { envCount } from './support/env.js';
import { emitJsonReport, jsonTarget } from './support/json-report.js';
import { beginBrokerRun } from './broker/run.js';
import { runPhases, type PeerLoad } from './peers/phases.js';
import { formatReport, ratios, type PeersReport, type TargetResult } from './peers/report.js';
import { generatorCache, TARGET_NAMES, targets } from './peers/targets.js';

const LOAD: PeerLoad = {
  msgs100: envCount('SLUICE_BENCH_PEERS_MSGS_100', 1_000_000),
  msgs1KiB: envCount('SLUICE_BENCH_PEERS_MSGS_1K', 300_000),
  maxSeconds: envCount('SLUICE_BENCH_PEERS_MAX_SECONDS', 15),
  rate: envCount('SLUICE_BENCH_PEERS_RATE', 10_000),
  pacedSeconds: envCount('SLUICE_BENCH_PEERS_PACED_SECONDS', 5),
};

function chosenTargets(): Set<string> {
  const raw = (process.env.SLUICE_BENCH_PEERS ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = raw.filter((name) => !(TARGET_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`SLUICE_BENCH_PEERS: unknown ${unknown.join(', ')} (${TARGET_NAMES.join(', ')})`);
  return new Set(raw.length > 0 ? raw : TARGET_NAMES);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = jsonTarget(argv);
  const unknown = argv.filter((a) => a !== '--json' && !a.startsWith('--json='));
  if (unknown.length > 0) throw new Error(`unknown arguments: ${unknown.join(' ')} (only --json[=file])`);
  const chosen = chosenTargets();
  const { started, progress, ws, machineAtEnd } = beginBrokerRun('peers');
  try {
    const generator = generatorCache(ws.dir);
    const results: TargetResult[] = [];
    for (const target of targets().filter((t) => chosen.has(t.name))) {
      if (target.missing !== null) {
        progress(`${target.name}: MISSING, ${target.missing}`);
        results.push({ name: target.name, durability: target.durability, client: null, missing: target.missing, phases: [] });
        continue;
      }
      const gen = generator(target.generator);
      progress(`${target.name}: ${target.durability}`);
      const dataEntry = target.name.replace(/\W+/g, '-');
      const server = await target.start(ws.path(dataEntry));
      try {
        results.push({ name: target.name, durability: target.durability, client: gen.client, missing: null, phases: await runPhases(gen, server, ws, LOAD, progress) });
      } finally {
        await server.stop();
        ws.remove(dataEntry);
      }
    }
    const report: PeersReport = {
      date: started.toISOString(),
      command: ['npm run bench:peers', ...argv].join(' '),
      seconds: (Date.now() - started.getTime()) / 1e3,
      machine: machineAtEnd(),
      load: LOAD,
      targets: results,
      ratios: ratios(results, LOAD.rate),
    };
    if (emitJsonReport(json, report)) return;
    console.log(formatReport(report));
  } finally {
    ws.cleanup();
  }
}

await main();
