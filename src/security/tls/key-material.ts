/**
 * A TLS listener's key, certificate chain and trusted CAs, read from PEM files or inline PEM
 * (ListenerTls), checked, and turned into Node's secure context options. Every problem is one
 * line naming the setting it comes from.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { ListenerTls } from '../../config/listeners.js';

export class KeyMaterialError extends Error {}

interface PemBlock {
  label: string;
  /** The block re-wrapped in canonical form, whatever line breaks it came with. */
  text: string;
}

// Inline PEM in a properties file loses its line breaks to line continuations: blocks are
// found by their markers and their base64 re-wrapped, so either form reads.
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

function pemBlocks(text: string): PemBlock[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => {
    const body = m[2].replace(/\s+/g, '');
    return { label: m[1], text: `-----BEGIN ${m[1]}-----\n${body.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${m[1]}-----\n` };
  });
}

/** Where a piece of key material comes from: a file, or an inline setting. */
interface Source {
  /** "ssl.keystore.location=/etc/x.pem" or "ssl.keystore.key". */
  what: string;
  file: string | null;
  text: string;
}

function fromFile(setting: string, file: string): Source {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new KeyMaterialError(`${setting}=${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return { what: `${setting}=${file}`, file, text };
}

const inline = (setting: string, text: string): Source => ({ what: setting, file: null, text });

function certificates(source: Source, blocks: PemBlock[]): X509Certificate[] {
  const certs = blocks.filter((b) => b.label === 'CERTIFICATE');
  if (certs.length === 0) throw new KeyMaterialError(`${source.what}: no PEM certificate in it`);
  return certs.map((b, i) => {
    try {
      return new X509Certificate(b.text);
    } catch (e) {
      throw new KeyMaterialError(`${source.what}: certificate ${i + 1} does not parse (${(e as Error).message})`);
    }
  });
}

function privateKey(source: Source, blocks: PemBlock[], password: string | null): { pem: string; key: KeyObject } {
  const keys = blocks.filter((b) => b.label.endsWith('PRIVATE KEY'));
  if (keys.length !== 1) throw new KeyMaterialError(`${source.what}: expected one PEM private key, found ${keys.length}`);
  const encrypted = keys[0].label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type: 4,ENCRYPTED/.test(source.text);
  if (encrypted && password === null) throw new KeyMaterialError(`${source.what}: the private key is encrypted: set ssl.key.password`);
  try {
    return { pem: keys[0].text, key: createPrivateKey({ key: keys[0].text, format: 'pem', passphrase: password ?? undefined }) };
  } catch (e) {
    const why = encrypted ? 'wrong ssl.key.password' : (e as Error).message;
    throw new KeyMaterialError(`${source.what}: the private key cannot be read (${why})`);
  }
}

/** What a listener's secure context is built from, with the files it was read from. */
export interface KeyMaterial {
  options: SecureContextOptions;
  /** The server certificate, for its subject and validity in the log. */
  certificate: X509Certificate;
  files: string[];
}

/** Reads and checks a listener's key material; throws KeyMaterialError with one line. */
export function loadKeyMaterial(tls: ListenerTls): KeyMaterial {
  const keySource = tls.keystoreLocation !== null ? fromFile('ssl.keystore.location', tls.keystoreLocation) : inline('ssl.keystore.key', tls.keystoreKey ?? '');
  const chainSource = tls.keystoreLocation !== null ? keySource : inline('ssl.keystore.certificate.chain', tls.keystoreCertificateChain ?? '');
  const key = privateKey(keySource, pemBlocks(keySource.text), tls.keyPassword);
  const chainBlocks = pemBlocks(chainSource.text).filter((b) => b.label === 'CERTIFICATE');
  const chain = certificates(chainSource, chainBlocks);
  if (!chain[0].checkPrivateKey(key.key)) throw new KeyMaterialError(`${chainSource.what}: the first certificate (${chain[0].subject.replace(/\n/g, ', ')}) is not the private key's`);
  const options: SecureContextOptions = {
    key: key.pem,
    passphrase: tls.keyPassword ?? undefined,
    cert: chainBlocks.map((b) => b.text).join(''),
    minVersion: tls.enabledProtocols.includes('TLSv1.2') ? 'TLSv1.2' : 'TLSv1.3',
    maxVersion: tls.enabledProtocols.includes('TLSv1.3') ? 'TLSv1.3' : 'TLSv1.2',
  };
  const files = keySource.file ? [keySource.file] : [];
  const trustSource =
    tls.truststoreLocation !== null ? fromFile('ssl.truststore.location', tls.truststoreLocation) : tls.truststoreCertificates !== null ? inline('ssl.truststore.certificates', tls.truststoreCertificates) : null;
  if (trustSource) {
    const trusted = pemBlocks(trustSource.text).filter((b) => b.label === 'CERTIFICATE');
    certificates(trustSource, trusted);
    options.ca = trusted.map((b) => b.text);
    if (trustSource.file) files.push(trustSource.file);
  }
  try {
    createSecureContext(options);
  } catch (e) {
    throw new KeyMaterialError(`${keySource.what}: unusable for TLS (${(e as Error).message})`);
  }
  return { options, certificate: chain[0], files };
}

/** What identifies a file's version: a replaced or rewritten file changes it. */
export function fileVersion(file: string): string {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}
