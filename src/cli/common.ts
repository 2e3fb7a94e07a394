import { InvalidArgumentError, Option, type Command } from 'commander';
import { KafkaClient } from '../client/kafka-client.js';
import { readClientSecurity } from '../client/sasl-properties.js';

export const DEFAULT_BROKERS = 'localhost:9092';

export interface BrokerOptions {
  brokers: string[];
  /** A Kafka client properties file: security.protocol, SASL login, ssl.ca.location. */
  commandConfig?: string;
}

function parseBrokers(value: string): string[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const bad = list.find((a) => !/^(\[[^\]]+\]|[^:[\]]+):\d{1,5}$/.test(a));
  if (list.length === 0 || bad !== undefined) throw new InvalidArgumentError(`expected host:port[,host:port...], got "${bad ?? value}"`);
  return list;
}

/** `--brokers` and `--command-config`, on every command that talks to a cluster (so each one's --help shows them). */
export function withBrokersOption(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('-b, --brokers <host:port,...>', 'brokers to bootstrap from')
        .env('SLUICE_BROKERS')
        .default(parseBrokers(DEFAULT_BROKERS), DEFAULT_BROKERS)
        .argParser(parseBrokers),
    )
    .addOption(new Option('--command-config <file>', 'Kafka client properties: security.protocol, sasl.mechanism, sasl.jaas.config (or sasl.username/sasl.password), ssl.ca.location').env('SLUICE_COMMAND_CONFIG'));
}

/** Runs `fn` with a client of the cluster, closing it afterwards whatever happens. */
export async function withClient<T>(opts: BrokerOptions, fn: (client: KafkaClient) => Promise<T>): Promise<T> {
  const security = opts.commandConfig === undefined ? undefined : readClientSecurity(opts.commandConfig);
  const client = new KafkaClient({ brokers: opts.brokers, clientId: 'sluice-cli', security });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** An integer option or argument within bounds, for commander's argParser. */
export function intParser(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError('expected an integer');
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `expected at least ${min}` : `expected ${min} to ${max}`);
    return n;
  };
}

/** A non-negative int64 (offsets). */
export function offsetParser(value: string): bigint {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('expected an offset (a non-negative integer)');
  return BigInt(value);
}

/** Milliseconds since the epoch, or an ISO 8601 date-time (2024-05-01T12:00:00Z). */
export function timestampParser(value: string): bigint {
  if (/^\d+$/.test(value.trim())) return BigInt(value);
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new InvalidArgumentError('expected milliseconds since the epoch or an ISO date-time such as 2024-05-01T12:00:00Z');
  return BigInt(ms);
}

/** `k=v` options, collected in order (repeatable flags; absent ones are undefined, not [], to keep --help free of "default: []"). */
export function keyValueCollector(value: string, previous: [string, string][] = []): [string, string][] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got "${value}"`);
  return [...previous, [value.slice(0, eq), value.slice(eq + 1)]];
}

/** Repeatable plain options. */
export function collector(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
