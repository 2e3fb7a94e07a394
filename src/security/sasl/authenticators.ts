import type { BrokerConfig } from '../../config/broker-config.js';
import type { MetadataImage } from '../../metadata/image.js';
import type { Connection } from '../../network/connection.js';
import type { ScramCredential, ScramMechanism } from '../scram/mechanisms.js';
import { credentialFromImage } from '../scram/stored.js';
import { SaslSession, type SaslServices } from './session.js';

/**
 * Gives each connection on a SASL listener its session, with the listener's settings as they
 * are when it connects (sasl.enabled.mechanisms is dynamic), and SCRAM credentials read from
 * the cluster metadata at each login, so a changed password applies at once.
 */
export class SaslAuthenticators implements SaslServices {
  constructor(
    private readonly config: () => BrokerConfig,
    private readonly image: () => MetadataImage,
    readonly outcome: SaslServices['outcome'],
  ) {}

  sessionFor(connection: Connection): SaslSession | null {
    const settings = this.config().saslListeners.get(connection.listenerName);
    return settings ? new SaslSession(connection, settings, this) : null;
  }

  scramCredential(mechanism: ScramMechanism, user: string): ScramCredential | undefined {
    const stored = this.image().scramCredentials.get(user)?.[mechanism.name];
    return stored && credentialFromImage(stored);
  }
}
