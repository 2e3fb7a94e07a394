import { runPlatformaticScript } from './platformatic-runner.js';

/**
 * @platformatic/kafka's Admin, run in a child process on a Node that satisfies the package's
 * engines (findNodeForPlatformatic in platformatic-runner.ts finds one).
 */

/** Every step has the client's own 10 s timeout; this only stops a child that hangs. */
const CHILD_TIMEOUT_MS = 60_000;

/** One call of an Admin method; bigints are written as strings like "12n". */
export interface AdminStep {
  op: string;
  args: unknown;
}

export interface KafkaError {
  apiId: string;
  serverErrorMessage: string | null;
}

export type AdminResult = { ok: true; value: unknown } | { ok: false; message: string; errors: KafkaError[] };

/** Runs the steps in order on one Admin client and returns each one's result. */
export async function runPlatformaticAdmin(node: string, bootstrap: string, steps: AdminStep[]): Promise<AdminResult[]> {
  const stdout = await runPlatformaticScript(node, 'platformatic-admin-child.mjs', [bootstrap], (stdin) => stdin.end(JSON.stringify(steps)), CHILD_TIMEOUT_MS);
  try {
    return JSON.parse(stdout) as AdminResult[];
  } catch {
    throw new Error(`the @platformatic/kafka admin child printed no results: ${stdout}`);
  }
}

/** The value of a step that must have succeeded. */
export function succeeded(result: AdminResult | undefined): unknown {
  if (!result?.ok) throw new Error(`the step failed: ${JSON.stringify(result)}`);
  return result.value;
}

/** The Kafka errors of a step that must have failed. */
export function kafkaErrors(result: AdminResult | undefined): KafkaError[] {
  if (!result || result.ok) throw new Error(`the step did not fail: ${JSON.stringify(result)}`);
  return result.errors;
}

export const errorIds = (result: AdminResult | undefined): string[] => kafkaErrors(result).map((e) => e.apiId);
