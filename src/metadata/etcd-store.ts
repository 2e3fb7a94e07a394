import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExponentialBackoff, handleWhen, noop, retry } from 'cockatiel';
import { Etcd3, isRecoverableError, type IKeyValue, type Lease, type Namespace, type Watcher } from 'etcd3';
import { log } from '../log.js';
import { ErrorCode } from '../protocol/generated/errors.js';
import { writeFileAtomically } from '../storage/checkpoint-file.js';
import { aclKey, MetadataImage, NO_LEADER, type AclImage, type EndpointImage, type PartitionImage, type ScramCredentialImage, type TopicImage } from './image.js';
import { claimDirectory, readIdentity } from './meta-properties.js';
import { newClusterId } from './names.js';
import { anyChange, MetadataWriteError, noChanges, type ImageChanges, type MetadataStore, type SessionState } from './store.js';

/**
 * Where the cluster metadata lives in etcd, below the prefix of `sluice.metadata.store`. Each
 * record is JSON. A topic's partitions are keyed by its id, so that two brokers racing to
 * create the same name cannot mix their assignments: the topic key, written last with
 * compare-and-set, says which id won.
 */
export const KEYS = {
  cluster: 'cluster',
  controller: 'controller',
  broker: (id: number) => `brokers/${id}`,
  topic: (name: string) => `topics/${name}`,
  partition: (topicId: string, index: number) => `partitions/${topicId}/${index}`,
  partitionsOf: (topicId: string) => `partitions/${topicId}/`,
  brokerConfigs: (broker: number | null) => `configs/brokers/${broker ?? 'default'}`,
  /** Encoded, as a group id may hold a slash. */
  groupConfigs: (groupId: string) => `configs/groups/${encodeURIComponent(groupId)}`,
  /** Encoded: an entity key holds user and client names. */
  clientQuotas: (entity: string) => `configs/quotas/${encodeURIComponent(entity)}`,
  producerIds: 'producer-ids',
  /** One key per ACL binding, its aclKey encoded. */
  acl: (key: string) => `acls/${encodeURIComponent(key)}`,
  /** A user's SCRAM credentials (encoded: a user name may hold a slash). */
  scramCredentials: (user: string) => `scram/${encodeURIComponent(user)}`,
} as const;

interface TopicRecord {
  id: string;
  configs: Record<string, string>;
  partitions: number;
}

interface BrokerRecord {
  id: number;
  incarnation: string;
  endpoints: EndpointImage[];
  rack: string | null;
  shuttingDown: boolean;
}

export interface EtcdStoreOptions {
  /** host:port of etcd members. */
  endpoints: string[];
  /** Keys live below this, so several clusters can share one etcd. */
  prefix: string;
  /** This broker's registration. */
  self: { id: number; endpoints: EndpointImage[]; rack: string | null };
  /** broker.session.timeout.ms: a broker whose lease is not renewed for this long is gone. */
  sessionTimeoutMs: number;
  /** The first log directory: the node's identity (meta.properties) and its last session. */
  dataDir: string;
}

/** Parses `etcd://host:port[,host:port]/prefix`, the form of sluice.metadata.store. */
export function parseEtcdUrl(url: string): { endpoints: string[]; prefix: string } {
  const m = /^etcd:\/\/([^/]+)\/(.+)$/.exec(url);
  if (!m) throw new Error(`"${url}" is not etcd://HOST:PORT[,HOST:PORT]/PREFIX`);
  const endpoints = m[1].split(',').map((e) => e.trim());
  for (const e of endpoints) if (!/^[^:]+:\d+$/.test(e)) throw new Error(`"${e}" in ${url} is not HOST:PORT`);
  return { endpoints, prefix: `/${m[2].replace(/^\/+|\/+$/g, '')}` };
}

/** The incarnation this node last registered with, so that a restart can retire it at once. */
const SESSION_FILE = 'sluice-broker-session';
/** How long a write to etcd may take, retries included, before the request it serves fails. */
const WRITE_TIMEOUT_MS = 10_000;

function json<T>(kv: IKeyValue): T {
  return JSON.parse(kv.value.toString('utf8')) as T;
}

/**
 * Cluster metadata in etcd through its v3 API: broker registrations under a lease (ephemeral,
 * like a ZooKeeper ephemeral node), the controller election, topics, partition states changed
 * only by compare-and-set on their mod revision, producer id blocks and dynamic configs. The
 * image follows one watch of the whole prefix, applied in revision order, never polled; a write
 * resolves once the watch has brought it back into the image.
 */
export class EtcdMetadataStore implements MetadataStore {
  readonly kind = 'etcd' as const;
  image: MetadataImage;
  brokerEpoch = -1;
  private readonly client: Etcd3;
  private readonly ns: Namespace;
  private readonly listeners = new Set<(changes: ImageChanges) => void>();
  private readonly incarnation = randomUUID();
  private lease: Lease | null = null;
  private leaseId: string | null = null;
  private watcher: Watcher | null = null;
  /** Raw records as the watch brought them, from which the image is assembled. */
  private readonly topicRecords = new Map<string, TopicRecord & { modRevision: string }>();
  private readonly topicNames = new Map<string, string>();
  private readonly partitionRecords = new Map<string, Map<number, { state: PartitionImage; modRevision: string }>>();
  private defaultConfigs: Record<string, string> = {};
  private ownConfigs: Record<string, string> = {};
  private appliedRevision = 0;
  private readonly revisionWaiters: { revision: number; resolve: () => void }[] = [];
  /** Keepalives sent and not yet answered, by send time: an answer proves the lease until its send time + TTL. */
  private readonly keepalivesInFlight: number[] = [];
  private leaseValidUntil = 0;
  private connected = true;
  private closed = false;
  private shuttingDown = false;
  private registering = false;

  private constructor(private readonly opts: EtcdStoreOptions) {
    this.client = new Etcd3({
      hosts: opts.endpoints.map((e) => `http://${e}`),
      dialTimeout: 3000,
      // No circuit breaker: after an etcd restart every call should try again at once.
      faultHandling: {
        host: () => noop,
        global: retry(handleWhen(isRecoverableError), { maxAttempts: 3, backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }) }),
        watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }).next(),
      },
    });
    this.ns = this.client.namespace(`${opts.prefix}/`);
    this.image = new MetadataImage('');
  }

  /**
   * Joins the cluster: agrees on the cluster id with etcd and the data directory, registers
   * this broker (refusing a node id another live broker holds), loads the image and watches.
   */
  static async open(opts: EtcdStoreOptions): Promise<EtcdMetadataStore> {
    const store = new EtcdMetadataStore(opts);
    try {
      const clusterId = await store.agreeOnClusterId();
      claimDirectory(opts.dataDir, opts.self.id, clusterId, () => clusterId);
      store.image = new MetadataImage(clusterId);
      await store.register();
      await store.load();
      void store.campaign();
      return store;
    } catch (e) {
      store.closed = true;
      store.lease?.release();
      store.client.close();
      throw e;
    }
  }

  /** The cluster id in etcd, created from the data directory's (or a new one) by the first broker. */
  private async agreeOnClusterId(): Promise<string> {
    const local = readIdentity(this.opts.dataDir).clusterId;
    const proposed = local ?? newClusterId();
    let res;
    try {
      res = await this.ns
        .if(KEYS.cluster, 'Create', '==', 0)
        .then(this.ns.put(KEYS.cluster).value(JSON.stringify({ id: proposed })))
        .else(this.ns.get(KEYS.cluster))
        .commit();
    } catch (e) {
      throw new Error(`cannot reach etcd at ${this.opts.endpoints.join(',')}: ${(e as Error).message}`);
    }
    if (res.succeeded) return proposed;
    const kv = res.responses[0].response_range!.kvs[0];
    return json<{ id: string }>(kv).id;
  }

  private get sessionPath(): string {
    return join(this.opts.dataDir, SESSION_FILE);
  }

  /**
   * Registers under a fresh lease. A registration of this node id that is still there is either
   * this node's own from before a crash (its incarnation is the one recorded here: retired at
   * once) or another live broker's: then it must lapse within a session timeout, or this
   * broker refuses to start.
   */
  private async register(): Promise<void> {
    const ttl = Math.max(1, Math.ceil(this.opts.sessionTimeoutMs / 1000));
    const lease = this.client.lease(ttl, { autoKeepAlive: true });
    this.lease = lease;
    lease.on('keepaliveFired', () => this.keepalivesInFlight.push(Date.now()));
    lease.on('keepaliveSucceeded', (res) => {
      const sent = this.keepalivesInFlight.shift() ?? Date.now();
      this.leaseValidUntil = Math.max(this.leaseValidUntil, sent + Number(res.TTL) * 1000);
      this.setConnected(true);
    });
    lease.on('keepaliveFailed', () => {
      this.keepalivesInFlight.length = 0;
      this.setConnected(false);
    });
    lease.on('lost', (err) => void this.onLeaseLost(lease, err));
    const granted = Date.now();
    this.leaseId = await lease.grant();
    this.leaseValidUntil = granted + ttl * 1000;
    const record: BrokerRecord = { id: this.opts.self.id, incarnation: this.incarnation, endpoints: this.opts.self.endpoints, rack: this.opts.self.rack, shuttingDown: this.shuttingDown };
    const key = KEYS.broker(this.opts.self.id);
    const lastIncarnation = existsSync(this.sessionPath) ? readFileSync(this.sessionPath, 'utf8').trim() : null;
    const deadline = Date.now() + this.opts.sessionTimeoutMs + 2000;
    for (;;) {
      const res = await this.ns
        .if(key, 'Create', '==', 0)
        .then(this.ns.put(key).value(JSON.stringify(record)).lease(this.leaseId))
        .else(this.ns.get(key))
        .commit();
      if (res.succeeded) {
        this.brokerEpoch = Number(res.header.revision);
        break;
      }
      const held = res.responses[0].response_range!.kvs[0];
      const other = json<BrokerRecord>(held);
      if (other.incarnation === lastIncarnation || other.incarnation === this.incarnation) {
        // This node's own registration, from before a crash or a lost lease (etcd may have kept
        // it, as it keeps leases over a restart): moved onto the new lease in one step, so the
        // others never see this broker gone, and only then is the old lease retired.
        const moved = await this.ns
          .if(key, 'Mod', '==', held.mod_revision)
          .then(this.ns.put(key).value(JSON.stringify(record)).lease(this.leaseId))
          .commit();
        if (!moved.succeeded) continue;
        this.brokerEpoch = Number(moved.header.revision);
        await this.client.leaseClient.leaseRevoke({ ID: held.lease }).catch(() => {});
        break;
      }
      if (Date.now() > deadline) {
        const where = other.endpoints.map((e) => `${e.host}:${e.port}`).join(', ');
        throw new Error(`node.id ${this.opts.self.id} is already registered in ${this.opts.prefix} by another live broker (${where}): every broker needs its own node.id`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    writeFileAtomically(this.sessionPath, `${this.incarnation}\n`);
  }

  /** The lease is gone (etcd unreachable for too long, or it expired): register again, with a new epoch. */
  private async onLeaseLost(lease: Lease, err: Error): Promise<void> {
    // The leases of failed attempts below lapse too: one loop at a time registers again.
    if (this.closed || lease !== this.lease || this.registering) return;
    this.registering = true;
    this.leaseValidUntil = 0;
    log.warn({ err: err.message }, 'the broker registration in etcd lapsed: writes are refused until it registers again');
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await this.register();
        log.info({ brokerEpoch: this.brokerEpoch }, 'registered in etcd again');
        this.registering = false;
        void this.campaign();
        this.emit({ ...noChanges(), brokers: true });
        return;
      } catch (e) {
        if (attempt % 20 === 0) log.warn({ err: (e as Error).message }, 'cannot register in etcd yet');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    this.registering = false;
  }

  private setConnected(connected: boolean): void {
    if (this.connected === connected) return;
    this.connected = connected;
    if (connected) log.info('etcd reachable again');
    else log.warn('etcd unreachable: leaderships stay as they are; writes are served only while the registration lease is provably alive');
  }

  session(): SessionState {
    const valid = this.leaseValidUntil > Date.now();
    const reason = valid ? null : this.connected ? 'the registration in etcd is being renewed' : 'etcd is unreachable and the registration lease may have lapsed';
    return { valid, connected: this.connected, reason };
  }

  /** Reads everything below the prefix and watches from just after that read. */
  private async load(): Promise<void> {
    const res = await this.ns.getAll().prefix('').exec();
    const changes = noChanges();
    for (const kv of res.kvs) this.apply(kv, false, changes);
    this.appliedRevision = Number(res.header.revision);
    this.rebuild(changes);
    this.watcher = await this.ns
      .watch()
      .prefix('')
      .startRevision(String(this.appliedRevision + 1))
      .create();
    this.watcher.on('data', (data) => {
      const changes = noChanges();
      for (const ev of data.events) this.apply(ev.kv, ev.type === 'Delete', changes);
      this.appliedRevision = Math.max(this.appliedRevision, Number(data.header.revision));
      this.rebuild(changes);
      this.wakeRevisionWaiters();
    });
    this.watcher.on('disconnected', () => this.setConnected(false));
    this.watcher.on('connected', () => this.setConnected(true));
    this.watcher.on('error', (err) => log.error({ err: err.message }, 'etcd watch failed'));
  }

  /** Takes one key's new value (or deletion) into the raw records and notes what it changes. */
  private apply(kv: IKeyValue, deleted: boolean, changes: ImageChanges): void {
    const key = kv.key.toString('utf8');
    const [kind, a, b] = key.split('/');
    if (kind === 'brokers') {
      const id = Number(a);
      if (deleted) this.image.brokers.delete(id);
      else {
        const r = json<BrokerRecord>(kv);
        this.image.brokers.set(id, { ...r, epoch: Number(kv.create_revision) });
      }
      changes.brokers = true;
    } else if (key === KEYS.controller) {
      this.image.controllerId = deleted ? NO_LEADER : json<{ id: number }>(kv).id;
      changes.controller = true;
    } else if (kind === 'topics') {
      const name = key.slice('topics/'.length);
      const old = this.topicRecords.get(name);
      if (old) this.topicNames.delete(old.id);
      if (deleted) this.topicRecords.delete(name);
      else {
        const record = { ...json<TopicRecord>(kv), modRevision: kv.mod_revision };
        this.topicRecords.set(name, record);
        this.topicNames.set(record.id, name);
      }
      changes.topics.add(name);
    } else if (kind === 'partitions') {
      let parts = this.partitionRecords.get(a);
      if (deleted) {
        parts?.delete(Number(b));
        if (parts?.size === 0) this.partitionRecords.delete(a);
      } else {
        if (!parts) this.partitionRecords.set(a, (parts = new Map()));
        parts.set(Number(b), { state: json<PartitionImage>(kv), modRevision: kv.mod_revision });
      }
      // Partitions of a topic not committed yet (or of a creation that lost) wait for their topic key.
      const topic = this.topicNames.get(a);
      if (topic) changes.topics.add(topic);
    } else if (kind === 'scram') {
      if (deleted) this.image.scramCredentials.delete(decodeURIComponent(a));
      else this.image.scramCredentials.set(decodeURIComponent(a), json<Record<string, ScramCredentialImage>>(kv));
    } else if (kind === 'acls') {
      const id = decodeURIComponent(a);
      if (deleted) this.image.acls.delete(id);
      else this.image.acls.set(id, json<AclImage>(kv));
    } else if (kind === 'configs' && a === 'quotas') {
      if (deleted) this.image.clientQuotas.delete(decodeURIComponent(b));
      else this.image.clientQuotas.set(decodeURIComponent(b), json<Record<string, number>>(kv));
    } else if (kind === 'configs' && a === 'groups') {
      if (deleted) this.image.groupConfigs.delete(decodeURIComponent(b));
      else this.image.groupConfigs.set(decodeURIComponent(b), json<Record<string, string>>(kv));
    } else if (kind === 'configs') {
      const record = deleted ? {} : json<Record<string, string>>(kv);
      if (b === 'default') this.defaultConfigs = record;
      else if (Number(b) === this.opts.self.id) this.ownConfigs = record;
      else return;
      changes.brokerConfigs = true;
    }
  }

  /** Assembles the changed topics from their records, and tells the listeners. */
  private rebuild(changes: ImageChanges): void {
    for (const name of changes.topics) {
      const record = this.topicRecords.get(name);
      const before = this.image.topic(name);
      if (!record) {
        if (before) {
          this.image.removeTopic(name);
          changes.deleted.push(before);
        }
        changes.topics.delete(name);
        continue;
      }
      if (before && before.id !== record.id) {
        this.image.removeTopic(name);
        changes.deleted.push(before);
      }
      const parts = this.partitionRecords.get(record.id);
      const partitions = Array.from({ length: record.partitions }, (_, i): PartitionImage => {
        return parts?.get(i)?.state ?? { replicas: [], isr: [], leader: NO_LEADER, leaderEpoch: -1, partitionEpoch: -1, adding: [], removing: [] };
      });
      this.image.putTopic({ name, id: record.id, configs: record.configs, partitions });
    }
    if (changes.brokerConfigs) this.image.brokerConfigs = { ...this.defaultConfigs, ...this.ownConfigs };
    if (anyChange(changes)) this.emit(changes);
  }

  private emit(changes: ImageChanges): void {
    for (const l of this.listeners) {
      try {
        l(changes);
      } catch (e) {
        log.error({ err: e }, 'a metadata change listener failed');
      }
    }
  }

  onChange(listener: (changes: ImageChanges) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private wakeRevisionWaiters(): void {
    for (let i = this.revisionWaiters.length - 1; i >= 0; i--) {
      const w = this.revisionWaiters[i];
      if (w.revision <= this.appliedRevision) {
        this.revisionWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /** Resolves once the watch has applied `revision`: a write is in the image before it is answered. */
  private seen(revision: string | number): Promise<void> {
    const r = Number(revision);
    if (r <= this.appliedRevision) return Promise.resolve();
    return new Promise((resolve) => this.revisionWaiters.push({ revision: r, resolve }));
  }

  /** Runs a write with a deadline, as a Kafka error a request can be answered with. */
  private async write<T>(what: string, work: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new MetadataWriteError(ErrorCode.REQUEST_TIMED_OUT, `${what}: etcd did not answer within ${WRITE_TIMEOUT_MS} ms`)), WRITE_TIMEOUT_MS);
    });
    try {
      return await Promise.race([work(), timeout]);
    } catch (e) {
      if (e instanceof MetadataWriteError) throw e;
      throw new MetadataWriteError(ErrorCode.REQUEST_TIMED_OUT, `${what}: etcd failed: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async createTopic(topic: TopicImage): Promise<void> {
    await this.write(`creating topic ${topic.name}`, async () => {
      // Partitions first, in slices (etcd caps operations per transaction), under the new id;
      // the topic key, compare-and-set, commits them.
      const slice = 100;
      for (let from = 0; from < topic.partitions.length; from += slice) {
        const puts = topic.partitions.slice(from, from + slice).map((p, i) => this.ns.put(KEYS.partition(topic.id, from + i)).value(JSON.stringify(p)));
        await this.ns.if(KEYS.topic(topic.name), 'Create', '==', 0).then(...puts).commit();
      }
      const record: TopicRecord = { id: topic.id, configs: topic.configs, partitions: topic.partitions.length };
      const res = await this.ns
        .if(KEYS.topic(topic.name), 'Create', '==', 0)
        .then(this.ns.put(KEYS.topic(topic.name)).value(JSON.stringify(record)))
        .commit();
      if (!res.succeeded) {
        await this.ns.delete().prefix(KEYS.partitionsOf(topic.id)).exec();
        throw new MetadataWriteError(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${topic.name}' already exists.`);
      }
      await this.seen(res.header.revision);
    });
  }

  async deleteTopic(name: string): Promise<void> {
    await this.write(`deleting topic ${name}`, async () => {
      const record = this.topicRecords.get(name);
      if (!record) return;
      const res = await this.ns
        .if(KEYS.topic(name), 'Mod', '==', record.modRevision)
        .then(this.ns.delete().key(KEYS.topic(name)), this.ns.delete().prefix(KEYS.partitionsOf(record.id)))
        .commit();
      if (!res.succeeded) throw new MetadataWriteError(ErrorCode.UNKNOWN_SERVER_ERROR, `Topic '${name}' changed while it was being deleted; try again.`);
      await this.seen(res.header.revision);
    });
  }

  async addPartitions(name: string, added: PartitionImage[]): Promise<void> {
    await this.write(`adding partitions to ${name}`, async () => {
      const record = this.topicRecords.get(name);
      if (!record) throw new MetadataWriteError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`);
      const ops = added.map((p, i) => this.ns.put(KEYS.partition(record.id, record.partitions + i)).value(JSON.stringify(p)));
      const grown: TopicRecord = { id: record.id, configs: record.configs, partitions: record.partitions + added.length };
      for (let from = 0; from < ops.length; from += 100) {
        await this.ns.if(KEYS.topic(name), 'Mod', '==', record.modRevision).then(...ops.slice(from, from + 100)).commit();
      }
      const res = await this.ns
        .if(KEYS.topic(name), 'Mod', '==', record.modRevision)
        .then(this.ns.put(KEYS.topic(name)).value(JSON.stringify(grown)))
        .commit();
      if (!res.succeeded) throw new MetadataWriteError(ErrorCode.INVALID_PARTITIONS, `Topic '${name}' changed while partitions were being added; try again.`);
      await this.seen(res.header.revision);
    });
  }

  async setTopicConfigs(name: string, configs: Record<string, string>): Promise<void> {
    await this.write(`changing the configs of ${name}`, async () => {
      for (;;) {
        const record = this.topicRecords.get(name);
        if (!record) throw new MetadataWriteError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`);
        const res = await this.ns
          .if(KEYS.topic(name), 'Mod', '==', record.modRevision)
          .then(this.ns.put(KEYS.topic(name)).value(JSON.stringify({ id: record.id, configs, partitions: record.partitions })))
          .commit();
        await this.seen(res.header.revision);
        if (res.succeeded) return;
      }
    });
  }

  async setBrokerConfigs(broker: number | null, configs: Record<string, string>): Promise<void> {
    await this.write('changing broker configs', async () => {
      const res = await this.ns.put(KEYS.brokerConfigs(broker)).value(JSON.stringify(configs));
      await this.seen(res.header.revision);
    });
  }

  async setGroupConfigs(groupId: string, configs: Record<string, string>): Promise<void> {
    await this.replaceKey('changing group configs', KEYS.groupConfigs(groupId), configs);
  }

  async setClientQuotas(entity: string, quotas: Record<string, number>): Promise<void> {
    await this.replaceKey('changing client quotas', KEYS.clientQuotas(entity), quotas);
  }

  async setScramCredentials(user: string, credentials: Record<string, ScramCredentialImage>): Promise<void> {
    await this.replaceKey('changing SCRAM credentials', KEYS.scramCredentials(user), credentials);
  }

  /** Writes `value` as JSON under `key`, an empty record deleting the key; resolves once the image has it. */
  private async replaceKey(what: string, key: string, value: object): Promise<void> {
    await this.write(what, async () => {
      const res = Object.keys(value).length === 0 ? await this.ns.delete().key(key) : await this.ns.put(key).value(JSON.stringify(value));
      await this.seen(res.header.revision);
    });
  }

  async changeAcls(added: AclImage[], removed: AclImage[]): Promise<void> {
    await this.write('changing ACLs', async () => {
      // Each binding is its own key, so concurrent changes of other bindings never conflict.
      let revision: string | null = null;
      for (const a of removed) revision = (await this.ns.delete().key(KEYS.acl(aclKey(a)))).header.revision;
      for (const a of added) revision = (await this.ns.put(KEYS.acl(aclKey(a))).value(JSON.stringify(a))).header.revision;
      if (revision !== null) await this.seen(revision);
    });
  }

  brokerConfigsOf(broker: number | null): Record<string, string> {
    return broker === null ? this.defaultConfigs : broker === this.opts.self.id ? this.ownConfigs : {};
  }

  async alterPartition(topic: string, index: number, expectedEpoch: number, next: PartitionImage): Promise<boolean> {
    return this.write(`changing ${topic}-${index}`, async () => {
      const record = this.topicRecords.get(topic);
      const current = record && this.partitionRecords.get(record.id)?.get(index);
      if (!record || !current || current.state.partitionEpoch !== expectedEpoch) return false;
      const key = KEYS.partition(record.id, index);
      const res = await this.ns
        .if(key, 'Mod', '==', current.modRevision)
        .then(this.ns.put(key).value(JSON.stringify({ ...next, partitionEpoch: expectedEpoch + 1 })))
        .commit();
      await this.seen(res.header.revision);
      return res.succeeded;
    });
  }

  async allocateProducerIds(count: number): Promise<bigint> {
    return this.write('allocating producer ids', async () => {
      for (;;) {
        const kv = (await this.ns.get(KEYS.producerIds).exec()).kvs[0];
        const next = kv ? json<{ next: number }>(kv).next : 0;
        const res = await this.ns
          .if(KEYS.producerIds, 'Mod', '==', kv ? kv.mod_revision : 0)
          .then(this.ns.put(KEYS.producerIds).value(JSON.stringify({ next: next + count })))
          .commit();
        if (res.succeeded) return BigInt(next);
      }
    });
  }

  /**
   * Campaigns for the controller: the key is held under this broker's lease, so it goes with
   * the broker; whoever holds it is the controller, and the others try again when it goes.
   */
  private async campaign(): Promise<void> {
    const leaseId = this.leaseId;
    while (!this.closed && leaseId === this.leaseId && !this.shuttingDown) {
      try {
        const res = await this.ns
          .if(KEYS.controller, 'Create', '==', 0)
          .then(this.ns.put(KEYS.controller).value(JSON.stringify({ id: this.opts.self.id })).lease(leaseId!))
          .commit();
        if (res.succeeded) {
          log.info({ nodeId: this.opts.self.id }, 'this broker is the controller');
          return;
        }
      } catch {
        // etcd is away: the loop tries again.
      }
      await new Promise<void>((resolve) => {
        if (this.image.controllerId === NO_LEADER) return setTimeout(resolve, 200);
        const stop = this.onChange((c) => {
          if (c.controller && this.image.controllerId === NO_LEADER) {
            stop();
            resolve();
          }
        });
        // A lease that lapsed gives up this campaign for the next one.
        setTimeout(() => {
          stop();
          resolve();
        }, this.opts.sessionTimeoutMs).unref();
      });
    }
  }

  /** Marks this broker's registration as stopping: the controller moves its leaderships away. */
  async announceShutdown(): Promise<void> {
    this.shuttingDown = true;
    const record: BrokerRecord = { id: this.opts.self.id, incarnation: this.incarnation, endpoints: this.opts.self.endpoints, rack: this.opts.self.rack, shuttingDown: true };
    await this.write('announcing the shutdown', async () => {
      // Leaving the controller role first lets another broker run the handover.
      await this.ns.if(KEYS.controller, 'Value', '==', JSON.stringify({ id: this.opts.self.id })).then(this.ns.delete().key(KEYS.controller)).commit();
      const res = await this.ns.put(KEYS.broker(this.opts.self.id)).value(JSON.stringify(record)).lease(this.leaseId!);
      await this.seen(res.header.revision);
    });
  }

  /** Leaves the cluster: the registration goes at once, not after a session timeout. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.revisionWaiters.splice(0)) w.resolve();
    await this.watcher?.cancel().catch(() => {});
    await Promise.race([this.lease?.revoke().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 2000))]);
    this.client.close();
  }
}
