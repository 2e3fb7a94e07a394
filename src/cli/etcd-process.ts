import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';

/** A free TCP port on `host`, as the system hands one out (it may be taken again by the time it is used). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface EtcdOptions {
  dataDir: string;
  host?: string;
  /** 0 or absent: a free port. */
  clientPort?: number;
  peerPort?: number;
  /** The etcd binary: Debian's etcd-server package installs /usr/bin/etcd. */
  binary?: string;
  /**
   * In a process group of its own, out of reach of a terminal's Ctrl-C: the parent stops it
   * once the brokers that use it are down.
   */
  detached?: boolean;
}

/** A single-member etcd on loopback, as `sluice dev-cluster` and the cluster tests run it. */
export class EtcdProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    private readonly options: Required<EtcdOptions>,
    readonly host: string,
    readonly clientPort: number,
    private readonly peerPort: number,
  ) {}

  /** host:port for clients. */
  get endpoint(): string {
    return `${this.host}:${this.clientPort}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  static async start(options: EtcdOptions): Promise<EtcdProcess> {
    const host = options.host ?? '127.0.0.1';
    const clientPort = options.clientPort || (await freePort(host));
    let peerPort = options.peerPort || (await freePort(host));
    while (peerPort === clientPort) peerPort = await freePort(host);
    const etcd = new EtcdProcess({ binary: 'etcd', detached: false, host, clientPort, peerPort, ...options }, host, clientPort, peerPort);
    await etcd.restart();
    return etcd;
  }

  /** Starts it (again) on the same ports and data: a restart keeps every key and lease. */
  async restart(): Promise<void> {
    if (this.child) throw new Error('etcd is running');
    const { host, clientPort, peerPort } = this;
    mkdirSync(this.options.dataDir, { recursive: true });
    const client = `http://${host}:${clientPort}`;
    const peer = `http://${host}:${peerPort}`;
    const child = spawn(
      this.options.binary,
      [
        '--name=sluice',
        `--data-dir=${this.options.dataDir}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=sluice=${peer}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], detached: this.options.detached },
    );
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', () => {
      if (this.child === child) this.child = null;
    });
    // The last of its log, for an error message; keeping all of it is not needed.
    let output = '';
    child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    let failure: Error | null = null;
    child.once('error', (e) => (failure = new Error(`could not run ${this.options.binary}: ${e.message} (Debian: apt-get install etcd-server)`)));
    child.once('exit', (code) => (failure ??= new Error(`etcd exited with ${code} while starting:\n${output}`)));
    const deadline = Date.now() + 20_000;
    while (!(await this.healthy())) {
      if (failure) throw failure;
      if (Date.now() > deadline) throw new Error(`etcd did not start within 20 s:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Whether it answers its health endpoint with a leader. */
  private async healthy(): Promise<boolean> {
    try {
      const res = await fetch(`http://${this.endpoint}/health`, { signal: AbortSignal.timeout(1000) });
      return res.ok && ((await res.json()) as { health?: string }).health === 'true';
    } catch {
      return false;
    }
  }

  /** SIGTERM, and wait for the exit. */
  async stop(): Promise<void> {
    this.child?.kill('SIGTERM');
    await this.exited;
  }

  /** SIGKILL: etcd's own crash recovery then runs at the next start. */
  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }
}
