import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Debian's own interpreter: apt installs confluent-kafka and kafka-python for it, while a
 * `python3` earlier on PATH (pyenv, a virtualenv) usually cannot import them.
 */
export const PYTHON = '/usr/bin/python3';

/** Something a test runs outside Node, and how to get it. */
export interface Tool {
  name: string;
  /** The apt package that provides it (`.ci/run` installs these). */
  aptPackage: string;
  /** The command that gets it, when apt alone does not. */
  install?: string;
  present(): boolean;
}

function succeeds(command: string, args: string[]): boolean {
  const r = spawnSync(command, args, { stdio: 'ignore', timeout: 15_000 });
  return r.status === 0;
}

function memo(check: () => boolean): () => boolean {
  let known: boolean | undefined;
  return () => (known ??= check());
}

export const kcat: Tool = { name: 'kcat', aptPackage: 'kcat', present: memo(() => succeeds('kcat', ['-V'])) };

/** The cluster metadata store of cluster tests. */
export const etcd: Tool = { name: 'etcd', aptPackage: 'etcd-server', present: memo(() => succeeds('etcd', ['--version'])) };

/** A C compiler, for test drivers written against librdkafka's C API. */
export const gcc: Tool = { name: 'gcc', aptPackage: 'gcc', present: memo(() => succeeds('gcc', ['--version'])) };

/** Network namespaces, veths and bridges, for brokers that can be cut off. */
export const ip: Tool = { name: 'ip', aptPackage: 'iproute2', present: memo(() => succeeds('ip', ['-V'])) };

/** Packet filtering, for cutting a broker off. */
export const nft: Tool = { name: 'nft', aptPackage: 'nftables', present: memo(() => succeeds('nft', ['--version'])) };

/** A module importable by PYTHON. */
export function pythonModule(module: string, aptPackage: string): Tool {
  return { name: `${PYTHON} with ${module}`, aptPackage, present: memo(() => succeeds(PYTHON, ['-c', `import ${module}`])) };
}

export const confluentKafka = pythonModule('confluent_kafka', 'python3-confluent-kafka');
export const kafkaPython = pythonModule('kafka', 'python3-kafka');

/** Where scripts/install-librdkafka-client.mjs installs @confluentinc/kafka-javascript. */
const LIBRDKAFKA_CLIENT_DIR = fileURLToPath(new URL('../librdkafka/', import.meta.url));

/**
 * librdkafka 2.15 (KIP-848's consumer protocol) through @confluentinc/kafka-javascript, whose
 * binding `npm test` builds from source: present once that binding loads.
 */
export const librdkafkaClient: Tool = {
  name: '@confluentinc/kafka-javascript in test/librdkafka',
  aptPackage: 'pkg-config zlib1g-dev libzstd-dev liblz4-dev',
  install: 'npm run install:librdkafka',
  present: memo(() =>
    succeeds(process.execPath, [
      '-e',
      `process.exit(require('node:module').createRequire(${JSON.stringify(LIBRDKAFKA_CLIENT_DIR)})('@confluentinc/kafka-javascript').librdkafkaVersion ? 0 : 1)`,
    ]),
  ),
};

/**
 * For node:test's `skip` option: false when every tool is there, else a reason to skip. Under CI
 * a missing tool is an error instead, so a broken CI image cannot pass by skipping everything.
 */
export function skipUnlessPresent(...tools: Tool[]): string | false {
  const missing = tools.filter((t) => !t.present());
  if (missing.length === 0) return false;
  const what = missing.map((t) => t.name).join(', ');
  const install = [`apt-get install ${missing.map((t) => t.aptPackage).join(' ')}`, ...missing.flatMap((t) => (t.install ? [t.install] : []))].join(', then ');
  if (process.env.CI) throw new Error(`CI is missing ${what} (.ci/run should have run: ${install})`);
  return `${what} not found; skipped (${install} to run it)`;
}
