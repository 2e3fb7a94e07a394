import { BROKER_DEFS, type BrokerConfigDef } from '../../config/config-defs.js';
import { plainUsers } from './jaas.js';

/** Kafka's PLAIN login module: its user_<name> options are the PLAIN users. */
const PLAIN_LOGIN_MODULE = 'org.apache.kafka.common.security.plain.PlainLoginModule';

/** What a SASL_PLAINTEXT or SASL_SSL listener offers and checks against. */
export interface ListenerSasl {
  /** sasl.enabled.mechanisms, in the order given. */
  mechanisms: string[];
  /** PLAIN users and their passwords, from the listener's PlainLoginModule entry. */
  plainUsers: ReadonlyMap<string, string>;
  /** connections.max.reauth.ms; 0: sessions do not expire. */
  maxReauthMs: number;
  /** sasl.server.max.receive.size. */
  maxReceiveSize: number;
}

/** A listener's value of a config: listener.name.<listener>.[<mechanism>.]<name>, else the broker-wide one. */
export type ListenerValue = <T>(def: BrokerConfigDef<T>, mechanism?: string) => T | null;

/** The SASL settings of one listener; `notes` hears of a PLAIN mechanism without users. */
export function listenerSasl(listener: string, get: ListenerValue, notes: string[]): ListenerSasl {
  const d = BROKER_DEFS;
  // These have defaults: only sasl.jaas.config may be unset.
  const mechanisms = get(d.saslEnabledMechanisms)!;
  const jaas = get(d.saslJaasConfig, 'PLAIN');
  const users = jaas?.loginModule === PLAIN_LOGIN_MODULE ? plainUsers(jaas) : new Map<string, string>();
  if (mechanisms.includes('PLAIN') && users.size === 0) {
    notes.push(
      `listener ${listener} offers SASL PLAIN without users: set listener.name.${listener.toLowerCase()}.plain.sasl.jaas.config=${PLAIN_LOGIN_MODULE} required user_<name>="<password>";`,
    );
  }
  return { mechanisms, plainUsers: users, maxReauthMs: get(d.connectionsMaxReauthMs)!, maxReceiveSize: get(d.saslServerMaxReceiveSize)! };
}
