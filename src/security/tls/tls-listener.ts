/**
 * The TLS side of an SSL or SASL_SSL listener: a node:tls server over the listener's key
 * material, client certificates checked as ssl.client.auth asks, handshakes bounded in time,
 * and the PEM files watched so that new certificates serve new connections without a restart.
 */
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { BrokerConfig } from '../../config/broker-config.js';
import { ConfigError } from '../../config/config-error.js';
import type { ClientAuth, ListenerTls } from '../../config/listeners.js';
import { log } from '../../log.js';
import { fileVersion, KeyMaterialError, loadKeyMaterial, type KeyMaterial } from './key-material.js';
import { certificatePrincipal } from './principal.js';

export interface TlsTimings {
  handshakeTimeoutMs: number;
  /** 0: the files are not watched. */
  reloadCheckIntervalMs: number;
}

/** Receives a connection whose handshake is done; principal is null for a client without a certificate. */
export type SecureAccept = (socket: TLSSocket, principal: string | null) => void;

const clientOf = (socket: TLSSocket): string => `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;

export class TlsListener {
  private material: KeyMaterial;
  private versions: string[];
  private readonly servers: Server[] = [];
  private timer: NodeJS.Timeout | null = null;

  /** Throws KeyMaterialError when the key material is unusable. */
  constructor(
    readonly name: string,
    private readonly settings: ListenerTls,
    private readonly timings: TlsTimings,
  ) {
    this.material = loadKeyMaterial(settings);
    this.versions = this.material.files.map(fileVersion);
    this.describe('TLS listener certificate');
  }

  /** A server for this listener; its sockets reach `accept` once their handshake is through. */
  createServer(accept: SecureAccept): Server {
    const clientAuth: ClientAuth = this.settings.clientAuth;
    const server = createServer({
      ...this.material.options,
      requestCert: clientAuth !== 'none',
      // "requested" lets a client without a certificate in; one with an untrusted certificate is
      // turned away below, as Kafka's TLS engine does.
      rejectUnauthorized: clientAuth === 'required',
      handshakeTimeout: this.timings.handshakeTimeoutMs,
      allowHalfOpen: true,
      noDelay: true,
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      const certificate = socket.getPeerX509Certificate();
      if (certificate && !socket.authorized) {
        log.warn({ listener: this.name, client: clientOf(socket), reason: String(socket.authorizationError) }, 'TLS client certificate refused');
        socket.destroy();
        return;
      }
      accept(socket, certificate ? certificatePrincipal(certificate) : null);
    });
    server.on('tlsClientError', (err, socket) => {
      log.warn({ listener: this.name, client: clientOf(socket), reason: err.message }, 'TLS handshake failed');
      // With a listener for this event, ending the socket is ours to do (a timed-out handshake stays open otherwise).
      socket.destroy();
    });
    this.servers.push(server);
    if (this.timer === null && this.material.files.length > 0 && this.timings.reloadCheckIntervalMs > 0) {
      this.timer = setInterval(() => this.reloadIfChanged(), this.timings.reloadCheckIntervalMs).unref();
    }
    return server;
  }

  /**
   * Loads the PEM files again when any changed: new connections get the new material, open ones
   * keep theirs. Material that does not load is reported once and the old one kept.
   */
  reloadIfChanged(): void {
    const versions = this.material.files.map(fileVersion);
    if (versions.every((v, i) => v === this.versions[i])) return;
    this.versions = versions;
    let material: KeyMaterial;
    try {
      material = loadKeyMaterial(this.settings);
    } catch (e) {
      if (!(e instanceof KeyMaterialError)) throw e;
      log.error({ listener: this.name, problem: e.message }, 'TLS key material changed but cannot be loaded: still serving the previous one');
      return;
    }
    this.material = material;
    for (const server of this.servers) server.setSecureContext(material.options);
    this.describe('TLS key material reloaded');
  }

  private describe(message: string): void {
    const c = this.material.certificate;
    const expired = Date.parse(c.validTo) < Date.now();
    const fields = { listener: this.name, subject: c.subject.replace(/\n/g, ', '), validTo: c.validTo, clientAuth: this.settings.clientAuth };
    if (expired) log.warn(fields, `${message}: it has expired, and clients will refuse it`);
    else log.info(fields, message);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/** The TLS side of every SSL and SASL_SSL listener; unusable key material is a ConfigError, one line each. */
export function openTlsListeners(config: Pick<BrokerConfig, 'tlsListeners' | 'sslHandshakeTimeoutMs' | 'sslReloadCheckIntervalMs'>): Map<string, TlsListener> {
  const problems: string[] = [];
  const listeners = new Map<string, TlsListener>();
  const timings = { handshakeTimeoutMs: config.sslHandshakeTimeoutMs, reloadCheckIntervalMs: config.sslReloadCheckIntervalMs };
  for (const [name, settings] of config.tlsListeners) {
    try {
      listeners.set(name, new TlsListener(name, settings, timings));
    } catch (e) {
      if (!(e instanceof KeyMaterialError)) throw e;
      problems.push(`listener ${name}: ${e.message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return listeners;
}
