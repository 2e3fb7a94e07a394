import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from './broker/broker.js';
import { buildBrokerConfig } from './config/load-config.js';

export interface StartBrokerOptions {
  /**
   * Broker settings by their Kafka (or sluice.*) names, e.g. `{ 'num.partitions': '3' }`.
   * Without `listeners` the broker takes a free port on 127.0.0.1; without `log.dirs`, a
   * temporary directory that stop() removes.
   */
  config?: Record<string, string>;
}

export interface EmbeddedBroker {
  /** host:port for a client's bootstrap servers / brokers list. */
  readonly bootstrap: string;
  /** The directory holding the broker's data. */
  readonly dataDir: string;
  readonly broker: Broker;
  /** Stops the broker cleanly and, when it was created here, removes its data directory. */
  stop(): Promise<void>;
}

/**
 * Starts a real Sluice broker inside this process, for test suites: Kafka clients connect to
 * `bootstrap` as to any broker. The web console stays off unless configured.
 */
export async function startBroker(options: StartBrokerOptions = {}): Promise<EmbeddedBroker> {
  const settings = { ...options.config };
  const ownDir = settings['log.dirs'] === undefined && settings['log.dir'] === undefined;
  const dataDir = ownDir ? mkdtempSync(join(tmpdir(), 'sluice-')) : (settings['log.dirs'] ?? settings['log.dir']!).split(',')[0];
  if (ownDir) settings['log.dirs'] = dataDir;
  settings.listeners ??= 'PLAINTEXT://127.0.0.1:0';
  settings['sluice.console.listener'] ??= '';
  let broker: Broker;
  try {
    broker = await Broker.start(buildBrokerConfig(new Map(), new Map(Object.entries(settings))));
  } catch (e) {
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const { host, port } = broker.advertised;
  return {
    bootstrap: `${host}:${port}`,
    dataDir,
    broker,
    async stop() {
      await broker.stop();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
