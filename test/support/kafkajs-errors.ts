import assert from 'node:assert/strict';

/** The Kafka error types inside what kafkajs threw, however it wrapped them. */
function kafkajsErrorTypes(err: unknown): string[] {
  const found: string[] = [];
  const walk = (e: unknown): void => {
    if (!e || typeof e !== 'object') return;
    const x = e as { type?: unknown; errors?: unknown[]; partitions?: { error?: unknown }[]; originalError?: unknown; cause?: unknown };
    if (typeof x.type === 'string') found.push(x.type);
    for (const inner of x.errors ?? []) walk(inner);
    for (const p of x.partitions ?? []) walk(p.error);
    walk(x.originalError);
    walk(x.cause);
  };
  walk(err);
  return found;
}

/** The Kafka error types of a kafkajs call that must fail. */
export async function rejection(call: Promise<unknown>): Promise<string[]> {
  try {
    await call;
  } catch (e) {
    return kafkajsErrorTypes(e);
  }
  assert.fail('the call succeeded');
}
