import { ScramClientExchange } from '../security/scram/client.js';
import { scramMechanismNamed } from '../security/scram/mechanisms.js';
import { ScramMessageError } from '../security/scram/messages.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import { ConnectionError, type BrokerConnection } from './connection.js';

export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';

/** How the client reaches brokers: Kafka's client security.protocol, SASL login and TLS trust. */
export interface ClientSecurity {
  protocol: SecurityProtocol;
  sasl: { mechanism: string; username: string; password: string } | null;
  /** PEM CA certificates to trust (ssl.ca.location); null: the system's. */
  ca: string | null;
}

export const usesClientTls = (s: ClientSecurity | undefined): boolean => s?.protocol === 'SSL' || s?.protocol === 'SASL_SSL';

/** SaslHandshake v1 and the mechanism's tokens in SaslAuthenticate; a refusal is a ConnectionError coded EAUTH. */
export async function authenticate(conn: BrokerConnection, sasl: NonNullable<ClientSecurity['sasl']>): Promise<void> {
  const refused = (why: string) => new ConnectionError(`${conn.address}: SASL ${sasl.mechanism} authentication as ${sasl.username} failed: ${why}`, 'EAUTH');
  const handshake = await conn.send('SaslHandshake', { mechanism: sasl.mechanism }, 1);
  if (handshake.errorCode === ErrorCode.UNSUPPORTED_SASL_MECHANISM) throw refused(`the broker offers ${handshake.mechanisms.join(', ') || 'no mechanism'} here`);
  if (handshake.errorCode !== ErrorCode.NONE) throw refused(`SaslHandshake error ${handshake.errorCode}`);
  const exchange = async (token: Buffer): Promise<Buffer> => {
    const res = await conn.send('SaslAuthenticate', { authBytes: token });
    if (res.errorCode !== ErrorCode.NONE) throw refused(res.errorMessage ?? `error ${res.errorCode}`);
    return res.authBytes;
  };
  if (sasl.mechanism === 'PLAIN') {
    await exchange(Buffer.from(`\u0000${sasl.username}\u0000${sasl.password}`, 'utf8'));
    return;
  }
  const mechanism = scramMechanismNamed(sasl.mechanism);
  if (!mechanism) throw refused('this client speaks PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512');
  const scram = new ScramClientExchange(mechanism, sasl.username, sasl.password);
  try {
    scram.verify(await exchange(scram.final(await exchange(scram.first()))));
  } catch (e) {
    throw e instanceof ScramMessageError ? refused(e.message) : e;
  }
}
