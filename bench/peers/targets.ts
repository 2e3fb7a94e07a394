import { startBroker } from '../broker/broker-process.js';
import { hiredisMissing, kafkaGenerator, natsGenerator, natsGoMissing, redisGenerator, type Generator } from './generators.js';
import { findBinary, startNats, startRedis, type AppendFsync, type ServerUnderTest } from './servers.js';

/** The servers of the peers benchmark, each with its durability setting spelled out for the report. */

export type GeneratorKind = 'kafka' | 'redis' | 'nats';

export interface Target {
  name: string;
  /** When an acknowledged message reaches the disk. */
  durability: string;
  generator: GeneratorKind;
  /** Why it cannot run on this machine, with the command that installs what it needs; null when it can. */
  missing: string | null;
  start(dataDir: string): Promise<ServerUnderTest>;
}

export const TARGET_NAMES = ['sluice', 'sluice sync', 'redis everysec', 'redis always', 'nats'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

const APT_PEERS = 'apt-get install -y --no-install-recommends redis-server nats-server libhiredis-dev golang-go golang-github-nats-io-go-nats-dev';

function sluice(name: TargetName, durability: string, overrides: Record<string, string>): Target {
  // One partition: each peer keeps the load in one stream.
  return { name, durability, generator: 'kafka', missing: null, start: (dataDir) => startBroker({ dataDir, partitions: 1, overrides }) };
}

function redis(fsync: AppendFsync, durability: string): Target {
  const bin = findBinary('redis-server');
  const missing = bin === null ? `redis-server is not installed: ${APT_PEERS}` : hiredisMissing();
  return { name: `redis ${fsync}`, durability, generator: 'redis', missing, start: (dataDir) => startRedis(bin!, dataDir, fsync) };
}

function nats(): Target {
  const bin = findBinary('nats-server');
  return {
    name: 'nats',
    durability: "JetStream file store: acknowledged once in the OS's file buffers, fsynced every 2 minutes (sync_interval's default; this 2.9 server has no setting for it)",
    generator: 'nats',
    missing: bin === null ? `nats-server is not installed: ${APT_PEERS}` : natsGoMissing(),
    start: (dataDir) => startNats(bin!, dataDir),
  };
}

export function targets(): Target[] {
  return [
    sluice('sluice', 'acks=1: acknowledged once written to the page cache; the OS writes it back (flush.messages/flush.ms unset)', {}),
    sluice('sluice sync', 'sluice.log.flush.mode=sync: a group-committed fdatasync before every acknowledgement', { 'sluice.log.flush.mode': 'sync' }),
    redis('everysec', 'AOF appendfsync everysec: written to the page cache before the reply, fsynced once a second'),
    redis('always', 'AOF appendfsync always: fsynced before the replies of each event-loop pass (a group commit)'),
    nats(),
  ];
}

/** Each kind's generator, built the first time a target needs it. */
export function generatorCache(dir: string): (kind: GeneratorKind) => Generator {
  const built = new Map<GeneratorKind, Generator>();
  const build = { kafka: () => kafkaGenerator(dir), redis: () => redisGenerator(dir), nats: () => natsGenerator(dir) } satisfies Record<GeneratorKind, () => Generator>;
  return (kind) => {
    if (!built.has(kind)) built.set(kind, build[kind]());
    return built.get(kind)!;
  };
}
