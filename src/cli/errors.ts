import { CommanderError } from 'commander';
import { ConnectionError } from '../client/connection.js';
import { KafkaError } from '../client/kafka-client.js';

/** Exit codes scripts can rely on. */
export const ExitCode = { ok: 0, failure: 1, usage: 2 } as const;

/** Bad flags or arguments, found after commander's own checks: exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A failure with a message already written for the operator: exit 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

const CONNECTION_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'unknown host',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  ECONNECTION: 'connection closed',
};

/** What to do next, for the Kafka errors an operator can act on. */
const KAFKA_HINTS: Record<string, string> = {
  UNKNOWN_TOPIC_OR_PARTITION: 'see `sluice topic list` and `sluice topic describe <topic>`',
  UNKNOWN_TOPIC_ID: 'check the name with `sluice topic list`',
  TOPIC_ALREADY_EXISTS: 'see it with `sluice topic describe`',
  GROUP_ID_NOT_FOUND: 'check the name with `sluice group list`',
  NON_EMPTY_GROUP: 'stop its consumers first',
  INVALID_PARTITIONS: 'see the current count with `sluice topic describe`',
  INVALID_REPLICATION_FACTOR: 'see the brokers with `sluice cluster info`',
  POLICY_VIOLATION: 'see the broker settings',
  MESSAGE_TOO_LARGE: "raise the topic's max.message.bytes, or send smaller messages",
  RECORD_LIST_TOO_LARGE: "raise the topic's max.message.bytes, or send smaller messages",
};

function connectionMessage(e: ConnectionError): string {
  // BrokerConnection errors read "<host:port>: <what happened>".
  const colon = e.message.indexOf(': ');
  const address = colon > 0 ? e.message.slice(0, colon) : 'the broker';
  const reason = CONNECTION_REASONS[e.code] ?? (colon > 0 ? e.message.slice(colon + 2) : e.message);
  if (e.code === 'EUNSUPPORTED') return `${e.message} — the broker is too old for this command`;
  if (e.code === 'ENOENT') return `${e.message} — the cluster metadata changed; try again`;
  if (e.code === 'EAUTH') return `${e.message} — check the login in --command-config`;
  return `cannot reach ${address}: ${reason} — is a broker running? start one with \`sluice serve\` or pass --brokers`;
}

/** One line for stderr that says what went wrong and, where it can, what to do. */
export function describeError(e: unknown): string {
  if (e instanceof ConnectionError) return connectionMessage(e);
  if (e instanceof KafkaError) {
    const hint = KAFKA_HINTS[e.errorName];
    return hint ? `${e.message} — ${hint}` : e.message;
  }
  if (e instanceof Error) return e.message.split('\n')[0];
  return String(e);
}

export function exitCodeOf(e: unknown): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  if (e instanceof UsageError) return ExitCode.usage;
  return ExitCode.failure;
}
