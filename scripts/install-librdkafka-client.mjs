// Installs test/librdkafka: librdkafka 2.15 through @confluentinc/kafka-javascript, for the
// KIP-848 consumer group tests. Does nothing when the installed package matches the lockfile and
// its binding is built, so `npm test` pays for the build once.
//
// The package's prebuilt binding is downloaded from GitHub and its default static build
// downloads zlib and OpenSSL sources; neither is reachable from every machine that runs the
// tests. CKJS_LINKING=dynamic builds librdkafka from the sources in the npm tarball against the
// system's libraries instead (.ci/run installs their -dev packages).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PACKAGE = '@confluentinc/kafka-javascript';
const folder = fileURLToPath(new URL('../test/librdkafka/', import.meta.url));
const installed = `${folder}node_modules/${PACKAGE}/`;
const binding = `${installed}build/Release/confluent-kafka-javascript.node`;

function readJson(path) {
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
}

const locked = readJson(`${folder}package-lock.json`)?.packages?.[`node_modules/${PACKAGE}`]?.version;
if (locked === undefined) throw new Error(`${folder}package-lock.json does not lock ${PACKAGE}`);
if (readJson(`${installed}package.json`)?.version === locked && existsSync(binding)) process.exit(0);

process.stderr.write(`building ${PACKAGE} ${locked} (librdkafka from source) in ${folder}; this takes a few minutes\n`);
const npm = spawnSync('npm', ['ci', '--prefix', folder, '--no-audit', '--no-fund', '--loglevel=error'], {
  stdio: 'inherit',
  // One make job: the binding's build generates librdkafka's config.h in a step that parallel jobs race past.
  env: { ...process.env, CKJS_LINKING: 'dynamic', MAKEFLAGS: '' },
});
if (npm.status === 0 && existsSync(binding)) process.exit(0);

const why = npm.error ? String(npm.error) : `npm ci exited with ${npm.status ?? npm.signal}`;
// Without the client its tests skip locally; under CI they must run, so the build must not fail quietly.
if (process.env.CI) {
  process.stderr.write(`${PACKAGE} could not be built: ${why}\n`);
  process.exit(1);
}
process.stderr.write(`${PACKAGE} could not be built (${why}); the librdkafka consumer group tests will be skipped\n`);
