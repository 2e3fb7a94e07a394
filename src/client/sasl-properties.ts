import { readFileSync } from 'node:fs';
import { readPropertiesFile } from '../config/properties-file.js';
import { parseJaasConfig } from '../security/sasl/jaas.js';
import type { ClientSecurity, SecurityProtocol } from './sasl.js';

const PROTOCOLS: readonly SecurityProtocol[] = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];

/**
 * A Kafka client properties file (kafka-*.sh --command-config): security.protocol,
 * sasl.mechanism, the login from sasl.jaas.config (username/password options) or librdkafka's
 * sasl.username/sasl.password, and ssl.ca.location. Throws an Error naming what is wrong.
 */
export function readClientSecurity(path: string): ClientSecurity {
  const props = readPropertiesFile(path);
  const protocol = (props.get('security.protocol') ?? 'PLAINTEXT').toUpperCase() as SecurityProtocol;
  if (!PROTOCOLS.includes(protocol)) throw new Error(`${path}: security.protocol=${protocol}: expected one of ${PROTOCOLS.join(', ')}`);
  const caFile = props.get('ssl.ca.location') ?? props.get('ssl.truststore.location');
  const ca = caFile ? readFileSync(caFile, 'utf8') : null;
  if (protocol !== 'SASL_PLAINTEXT' && protocol !== 'SASL_SSL') return { protocol, sasl: null, ca };
  const mechanism = (props.get('sasl.mechanism') ?? props.get('sasl.mechanisms') ?? 'PLAIN').toUpperCase();
  const jaasText = props.get('sasl.jaas.config');
  const jaas = jaasText ? parseJaasConfig(jaasText).options : {};
  const username = props.get('sasl.username') ?? jaas.username;
  const password = props.get('sasl.password') ?? jaas.password;
  if (username === undefined || password === undefined) throw new Error(`${path}: ${protocol} needs a login: sasl.jaas.config with username="..." password="...", or sasl.username and sasl.password`);
  return { protocol, sasl: { mechanism, username, password }, ca };
}
