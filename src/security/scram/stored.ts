import type { ScramCredentialImage } from '../../metadata/image.js';
import type { ScramCredential } from './mechanisms.js';

export const credentialToImage = (c: ScramCredential): ScramCredentialImage => ({
  salt: c.salt.toString('base64'),
  storedKey: c.storedKey.toString('base64'),
  serverKey: c.serverKey.toString('base64'),
  iterations: c.iterations,
});

export const credentialFromImage = (c: ScramCredentialImage): ScramCredential => ({
  salt: Buffer.from(c.salt, 'base64'),
  storedKey: Buffer.from(c.storedKey, 'base64'),
  serverKey: Buffer.from(c.serverKey, 'base64'),
  iterations: c.iterations,
});
