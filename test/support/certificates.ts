/**
 * Certificates for TLS tests, made with the openssl CLI at test time (P-256 keys: fast to
 * generate, and every client under test speaks ECDSA): a CA, a server certificate for
 * 127.0.0.1 and localhost, client certificates, and the awkward cases (expired, encrypted key,
 * signed by a CA nobody trusts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tool } from './tools.js';

export const openssl: Tool = {
  name: 'openssl',
  aptPackage: 'openssl',
  present: () => {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  },
};

/** A PEM certificate and its unencrypted PEM key; `keystore` is both in one file (key, then chain). */
export interface IssuedCertificate {
  cert: string;
  key: string;
  keystore: string;
}

export interface CertificateAuthority {
  cert: string;
  key: string;
}

export interface TestCertificates {
  dir: string;
  ca: CertificateAuthority;
  /** A second CA that the broker does not trust and clients are not given. */
  otherCa: CertificateAuthority;
  /** SAN IP:127.0.0.1 and DNS:localhost, signed by `ca`. */
  server: IssuedCertificate;
  /** The server's key encrypted (PKCS#8, AES-256) with `serverKeyPassword`. */
  serverEncryptedKey: string;
  serverKeyPassword: string;
  /** A server certificate that expired before it began. */
  expiredServer: IssuedCertificate;
  /** The same names as `server`, signed by `otherCa`. */
  untrustedServer: IssuedCertificate;
  /** Client certificates by name; each subject is /O=acme/OU=eng/CN=<name>, so Kafka's principal is User:CN=<name>,OU=eng,O=acme. */
  clients: Record<string, IssuedCertificate>;
  /** Issues one more certificate from `ca` (or `issuer`); see issueCertificate. */
  issue(name: string, options?: IssueOptions): IssuedCertificate;
  remove(): void;
}

export interface IssueOptions {
  issuer?: CertificateAuthority;
  /** openssl -subj form; /CN=<name> by default. */
  subject?: string;
  /** A server certificate (SAN 127.0.0.1 and localhost) rather than a client one. */
  server?: boolean;
  /** Negative: already expired. */
  days?: number;
}

function run(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string): CertificateAuthority {
  const ca = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  run(['req', '-x509', ...NEW_KEY, '-keyout', ca.key, '-out', ca.cert, '-days', '3650', '-subj', `/CN=Sluice test ${name}`], dir);
  return ca;
}

/** A key and a certificate signed by `issuer`, in `dir` under `name`. */
export function issueCertificate(dir: string, issuer: CertificateAuthority, name: string, options: Omit<IssueOptions, 'issuer'> = {}): IssuedCertificate {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const ext = join(dir, `${name}.ext`);
  run(['req', '-new', ...NEW_KEY, '-keyout', key, '-out', csr, '-subj', options.subject ?? `/CN=${name}`], dir);
  writeFileSync(
    ext,
    options.server
      ? 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n'
      : 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
  );
  run(['x509', '-req', '-in', csr, '-CA', issuer.cert, '-CAkey', issuer.key, '-CAcreateserial', '-days', String(options.days ?? 825), '-extfile', ext, '-out', cert], dir);
  const keystore = join(dir, `${name}.keystore.pem`);
  writeFileSync(keystore, readFileSync(key, 'utf8') + readFileSync(cert, 'utf8') + readFileSync(issuer.cert, 'utf8'));
  return { cert, key, keystore };
}

/** Makes a fresh set in a temporary directory; call remove() when done. */
export function makeTestCertificates(clientNames: string[] = ['alice', 'bob']): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-certs-'));
  const ca = makeCa(dir, 'ca');
  const otherCa = makeCa(dir, 'other-ca');
  const server = issueCertificate(dir, ca, 'server', { subject: '/CN=localhost', server: true });
  const serverKeyPassword = 'keystore-secret';
  const serverEncryptedKey = join(dir, 'server.encrypted.key');
  run(['pkey', '-in', server.key, '-aes256', '-passout', `pass:${serverKeyPassword}`, '-out', serverEncryptedKey], dir);
  const clients: Record<string, IssuedCertificate> = {};
  for (const name of clientNames) clients[name] = issueCertificate(dir, ca, `client-${name}`, { subject: `/O=acme/OU=eng/CN=${name}` });
  return {
    dir,
    ca,
    otherCa,
    server,
    serverEncryptedKey,
    serverKeyPassword,
    expiredServer: issueCertificate(dir, ca, 'expired-server', { subject: '/CN=localhost', server: true, days: -1 }),
    untrustedServer: issueCertificate(dir, otherCa, 'untrusted-server', { subject: '/CN=localhost', server: true }),
    clients,
    issue: (name, options = {}) => issueCertificate(dir, options.issuer ?? ca, name, options),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
