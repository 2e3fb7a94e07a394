import { readdir } from 'node:fs/promises';
import { getHeapStatistics } from 'node:v8';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { transferStats } from '../native/file-transfer.js';
import { processDescriptors } from '../broker/descriptor-shares.js';
import { logDescriptors } from '../storage/descriptor-cache.js';
import { nextSegmentStats } from '../storage/next-segment.js';
import { fetchWaitStats } from '../replication/fetch-waiters.js';
import { labelSet, SeriesFamilies, takeSliced } from './series-families.js';
import { TotalsHistogram, type HistogramTotals } from './totals-histogram.js';

let processMetrics: Registry | null = null;

/**
 * The process's own metrics (prom-client's defaults: resident memory, heap use, open and
 * maximum file descriptors, event loop lag, GC...), plus the heap limit, which V8 fails the
 * process at. One set for the process, shared by every broker in it: each collectDefaultMetrics
 * call starts a GC observer and an event loop monitor that nothing stops, which would pile
 * up as a test suite starts and stops brokers.
 */
function processRegistry(): Registry {
  if (processMetrics) return processMetrics;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  if (registry.getSingleMetric('process_open_fds')) {
    // prom-client lists /proc/self/fd synchronously: 25-50 ms of a blocked event loop per scrape
    // at 19,000 descriptors. The same count, listed on libuv's pool.
    registry.removeSingleMetric('process_open_fds');
    new Gauge({
      name: 'process_open_fds',
      help: 'Number of open file descriptors.',
      registers: [registry],
      async collect() {
        // Less the one the listing itself used.
        this.set((await readdir('/proc/self/fd')).length - 1);
      },
    });
  }
  new Gauge({
    name: 'nodejs_heap_size_limit_bytes',
    help: 'The most the V8 heap may grow to (--max-old-space-size and the like) before the process fails',
    registers: [registry],
    collect() {
      this.set(getHeapStatistics().heap_size_limit);
    },
  });
  // The descriptors are the process's, shared by log files and sockets (see descriptor-shares.ts).
  const registers = [registry];
  new Gauge({ name: 'sluice_listener_sockets', help: 'Sockets open on the listeners, TLS handshakes and refused ones not yet closed included', registers, collect() { this.set(processDescriptors.sockets); } });
  new Gauge({
    name: 'sluice_listener_sockets_limit',
    help: 'Sockets the descriptor limit leaves room for beside the log files; more are refused (reason descriptors). -1: no limit',
    registers,
    collect() {
      this.set(Number.isFinite(processDescriptors.maxSockets) ? processDescriptors.maxSockets : -1);
    },
  });
  new Gauge({ name: 'sluice_log_open_files', help: 'Log file descriptors open now, lent or idle', registers, collect() { this.set(logDescriptors.open); } });
  new Gauge({ name: 'sluice_log_open_files_limit', help: 'Log file descriptors allowed open at once now: the budget (sluice.log.max.open.files), less what sockets need near the process limit', registers, collect() { this.set(logDescriptors.limit); } });
  new Gauge({ name: 'sluice_log_file_loans_waiting', help: 'Reads and flushes waiting for a log file descriptor to come free', registers, collect() { this.set(logDescriptors.waiters); } });
  followedCounters(
    'sluice_log_file_descriptor_events_total',
    'Log file descriptors opened, closed while idle to stay within the budget, and loans that had to wait',
    'event',
    registers,
    () => (['opened', 'evicted', 'waits'] as const).map((event) => [event, logDescriptors.stats[event]] as const),
  );
  followedCounters(
    'sluice_log_next_segment_events_total',
    'mmap append mode: next segments asked for, prepared, failed, or not started for want of free space (lowSpace), and rolls that took one ready or found none (missed)',
    'event',
    registers,
    () => Object.entries(nextSegmentStats),
  );
  let evaluated = 0;
  new Counter({
    name: 'sluice_fetch_parked_evaluations_total',
    help: 'Times a parked fetch looked again at one of its partitions after it moved',
    registers,
    collect() {
      this.inc(fetchWaitStats.evaluations - evaluated);
      evaluated = fetchWaitStats.evaluations;
    },
  });
  return (processMetrics = registry);
}

/** One replica this broker holds, as a scrape sees it. */
export interface PartitionState {
  topic: string;
  partition: number;
  size: number;
  logStartOffset: number;
  logEndOffset: number;
  highWatermark: number;
  leader: boolean;
  underReplicated: boolean;
  /** A follower's records behind its leader's high watermark. */
  lag: number;
  /** The last stable offset (the high watermark unless a transaction is open). */
  lastStableOffset: number;
}

/** What the metrics read from the broker when scraped, rather than track on every request. */
export interface MetricsSource {
  /** The replicas this broker holds, each read as it is taken. */
  partitions(): Iterable<PartitionState>;
  /** The state of each transactional id this broker coordinates. */
  transactionStates(): string[];
  /** Share-partitions served here (KIP-932): records in flight by state, and where the group stands. */
  sharePartitions(): { group: string; topic: string; partition: number; startOffset: number; available: number; acquired: number; acknowledged: number; archived: number }[];
  /** Incremental fetch sessions (KIP-227) held, the partitions they hold, and sessions evicted since start. */
  fetchSessions(): { sessions: number; partitions: number; evictions: number; requests: Record<string, number> };
  /** Records written to share groups' dead-letter topics since start. */
  deadLetters(): number;
  /** Committed offsets of every group, for lag. */
  committedOffsets(): { group: string; topic: string; partition: number; offset: number }[];
  /** Replicas the metadata assigns here that this broker cannot serve, and log directories that failed. */
  offline(): { partitions: number; logDirs: number };
  /** The controller's view, as Kafka's active controller reports it (the others report zeros). */
  controller(): { active: boolean; offlinePartitions: number; elections: number; uncleanElections: number };
  /** ISR changes this broker made as leader, since start. */
  isrChanges(): { shrinks: number; expands: number };
  /** Running totals of quota enforcement: throttle time and throttled requests by quota type, refused connections by reason. */
  quotas(): { throttleMs: ReadonlyMap<string, number>; throttled: ReadonlyMap<string, number>; refused: ReadonlyMap<string, number> };
}

/** A counter that follows a running total read when scraped. */
function followedCounter(name: string, help: string, registers: Registry[], total: () => number): void {
  let seen = 0;
  new Counter({
    name,
    help,
    registers,
    collect() {
      const now = total();
      this.inc(now - seen);
      seen = now;
    },
  });
}

/** A labelled counter that follows running totals, by label value, read when scraped. */
function followedCounters(name: string, help: string, label: string, registers: Registry[], totals: () => Iterable<readonly [string, number]>): void {
  const seen = new Map<string, number>();
  new Counter({
    name,
    help,
    labelNames: [label],
    registers,
    collect() {
      for (const [value, now] of totals()) {
        this.inc({ [label]: value }, now - (seen.get(value) ?? 0));
        seen.set(value, now);
      }
    },
  });
}

/**
 * The broker's Prometheus metrics, named as a Kafka operator knows them from Kafka's JMX beans
 * through the usual exporters, with the process's beside them. One registry per broker, so
 * several embedded brokers in one process keep their numbers apart.
 */
export class BrokerMetrics {
  readonly registry: Registry;
  /*
   * What each request adds to, as plain numbers read when scraped: prom-client hashes a label
   * object on every call, even on a series bound with labels(), about a microsecond and some
   * garbage per request.
   */
  private readonly topicTotals = new Map<string, TopicTotals>();
  private readonly requestTotals = new Map<string, RequestTotals>();
  private readonly requestSeconds: TotalsHistogram;
  private readonly authSuccesses: Counter<'listener' | 'mechanism'>;
  private readonly authFailures: Counter<'listener' | 'mechanism'>;
  private readonly authzDenials: Counter<'resource_type' | 'operation'>;
  private readonly series = new SeriesFamilies<ScrapedPartitions>();
  private readonly source: MetricsSource;

  constructor(source: MetricsSource) {
    const own = new Registry();
    const registers = [own];
    const byTopic = (pick: (t: TopicTotals) => number) => () => map(this.topicTotals, pick);
    followedCounters('kafka_server_brokertopicmetrics_messagesin_total', 'Records appended, by topic', 'topic', registers, byTopic((t) => t.messagesIn));
    followedCounters('kafka_server_brokertopicmetrics_bytesin_total', 'Record batch bytes appended, by topic', 'topic', registers, byTopic((t) => t.bytesIn));
    followedCounters('kafka_server_brokertopicmetrics_bytesout_total', 'Record bytes sent to fetchers, by topic', 'topic', registers, byTopic((t) => t.bytesOut));
    followedCounters('kafka_network_requestmetrics_requests_total', 'Requests handled, by API', 'request', registers, () => map(this.requestTotals, (r) => r.started));
    this.requestSeconds = new TotalsHistogram(
      'kafka_network_requestmetrics_totaltime_seconds',
      'Time from reading a request to its response being ready, by API',
      'request',
      [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    );
    const authLabels = ['listener', 'mechanism'] as const;
    this.authSuccesses = new Counter({ name: 'sluice_authentication_successes_total', help: 'SASL authentications and re-authentications that succeeded, by listener and mechanism', labelNames: authLabels, registers });
    this.authFailures = new Counter({
      name: 'sluice_authentication_failures_total',
      help: 'SASL authentications that failed (mechanism "unsupported" for one the listener does not offer), by listener and mechanism',
      labelNames: authLabels,
      registers,
    });
    this.authzDenials = new Counter({
      name: 'sluice_authorization_denials_total',
      help: 'ACL checks that denied a principal, by resource type and operation',
      labelNames: ['resource_type', 'operation'],
      registers,
    });
    const gauge = (name: string, help: string, value: () => number): void =>
      void new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(value());
        },
      });
    gauge('kafka_server_replicamanager_offlinereplicacount', 'Replicas assigned here that cannot be served (no log, or a failed log directory)', () => source.offline().partitions);
    gauge('kafka_controller_kafkacontroller_activecontrollercount', '1 on the active controller', () => (source.controller().active ? 1 : 0));
    gauge('kafka_controller_kafkacontroller_offlinepartitionscount', 'Partitions without a leader, counted by the active controller', () => {
      const c = source.controller();
      return c.active ? c.offlinePartitions : 0;
    });
    gauge('kafka_server_fetchsessioncache_numincrementalfetchsessions', 'Incremental fetch sessions (KIP-227) held', () => source.fetchSessions().sessions);
    gauge('kafka_server_fetchsessioncache_numincrementalfetchpartitionscached', 'Partitions held across incremental fetch sessions', () => source.fetchSessions().partitions);
    followedCounter('kafka_server_fetchsessioncache_incrementalfetchsessionevictions_total', 'Fetch sessions pushed out of a full cache to make room for a new one', registers, () => source.fetchSessions().evictions);
    followedCounters(
      'sluice_fetch_session_requests_total',
      'Fetches by their session (KIP-227): sessionless, full (opening one), incremental, error (a session unknown or out of step)',
      'kind',
      registers,
      () => Object.entries(source.fetchSessions().requests),
    );
    followedCounter('kafka_controller_controllerstats_leaderelections_total', 'Leader elections this broker made as controller', registers, () => source.controller().elections);
    followedCounter('kafka_controller_controllerstats_uncleanleaderelections_total', 'Unclean leader elections this broker made as controller', registers, () => source.controller().uncleanElections);
    followedCounter('kafka_server_replicamanager_isrshrinks_total', 'ISR shrinks made by this broker as leader', registers, () => source.isrChanges().shrinks);
    followedCounter('kafka_server_replicamanager_isrexpands_total', 'ISR expansions made by this broker as leader', registers, () => source.isrChanges().expands);
    new Gauge({
      name: 'kafka_log_logmanager_offlinelogdirectorycount',
      help: 'Log directories offline after a disk failure',
      registers,
      collect() {
        this.set(source.offline().logDirs);
      },
    });
    followedCounters('sluice_throttle_time_ms_total', 'Throttle time given to clients over their quotas, by quota type (produce, fetch, request, connection_creation)', 'quota_type', registers, () => source.quotas().throttleMs);
    followedCounters('sluice_throttled_requests_total', 'Requests (and connections) throttled by a quota, by quota type', 'quota_type', registers, () => source.quotas().throttled);
    followedCounters('sluice_connections_refused_total', 'Connections refused, by reason (max_connections, max_connections_per_ip, connection_creation_rate, descriptors)', 'reason', registers, () => source.quotas().refused);
    followedCounter('sluice_share_dead_letters_total', 'Records share groups wrote to their dead-letter topics', registers, () => source.deadLetters());
    new Gauge({
      name: 'sluice_transactions',
      help: 'Transactional ids this broker coordinates, by state (Ongoing, CompleteCommit...)',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        const byState = new Map<string, number>();
        for (const s of source.transactionStates()) byState.set(s, (byState.get(s) ?? 0) + 1);
        for (const [state, n] of byState) this.set({ state }, n);
      },
    });
    const sent = { sendfile: 0, copy: 0 };
    new Counter({
      name: 'sluice_fetch_bytes_total',
      help: 'Record bytes sent to sockets, by path: sendfile (zero-copy) or copy (pread + write)',
      labelNames: ['path'],
      registers,
      collect() {
        // The transfer counters are per process; this counter follows them.
        this.inc({ path: 'sendfile' }, transferStats.sendfileBytes - sent.sendfile);
        this.inc({ path: 'copy' }, transferStats.copiedBytes - sent.copy);
        sent.sendfile = transferStats.sendfileBytes;
        sent.copy = transferStats.copiedBytes;
      },
    });
    const series = this.series;
    const count = (pick: (p: PartitionState) => boolean) => (s: ScrapedPartitions) => {
      // Counted, not filtered: a filtered copy would be an array as long as the partitions.
      let n = 0;
      for (const p of s.all) if (pick(p)) n++;
      return n;
    };
    series.single('kafka_server_replicamanager_underreplicatedpartitions', 'Partitions led here with fewer in-sync replicas than replicas', count((p) => p.underReplicated));
    series.single('kafka_server_replicamanager_leadercount', 'Partitions this broker leads', count((p) => p.leader));
    series.single('kafka_server_replicamanager_partitioncount', 'Replicas this broker holds', (s) => s.all.length);
    const partitions = (s: ScrapedPartitions): readonly PartitionState[] => s.all;
    const ofPartition = (p: PartitionState): string => labelSet({ topic: p.topic, partition: p.partition });
    series.add('kafka_server_fetcherlagmetrics_consumerlag', 'Records a follower replica here is behind its leader', partitions, (p, line) => {
      if (!p.leader) line(ofPartition(p), p.lag);
    });
    series.add('kafka_log_log_size', 'Bytes of a partition log on disk', partitions, (p, line) => line(ofPartition(p), p.size));
    series.add('kafka_log_log_logendoffset', 'Log end offset of a partition', partitions, (p, line) => line(ofPartition(p), p.logEndOffset));
    series.add(
      'sluice_partition_unstable_offsets',
      'High watermark minus last stable offset of a partition led here: records read_committed consumers wait for, held by an open transaction',
      partitions,
      (p, line) => {
        if (p.leader) line(ofPartition(p), p.highWatermark - p.lastStableOffset);
      },
    );
    series.add(
      'sluice_share_partition_records',
      'Records of a share-partition (share group on a topic partition) past its start offset, by state: available (to deliver again), acquired, acknowledged, archived',
      () => source.sharePartitions(),
      (s, line) => {
        for (const state of ['available', 'acquired', 'acknowledged', 'archived'] as const) line(labelSet({ group: s.group, topic: s.topic, partition: s.partition, state }), s[state]);
      },
    );
    series.add(
      'sluice_share_partition_start_offset',
      'The share-partition start offset: every record before it is acknowledged or archived',
      () => source.sharePartitions(),
      (s, line) => line(labelSet({ group: s.group, topic: s.topic, partition: s.partition }), s.startOffset),
    );
    series.add(
      'kafka_consumergroup_lag',
      'High watermark minus committed offset, by group and partition',
      () => source.committedOffsets(),
      (c, line, s) => {
        const end = s.highWatermark(c.topic, c.partition);
        if (end !== undefined) line(labelSet({ consumergroup: c.group, topic: c.topic, partition: c.partition }), Math.max(0, end - c.offset));
      },
    );
    this.source = source;
    this.registry = Registry.merge([own, processRegistry()]);
  }

  /**
   * Everything, in Prometheus's text format (what /metrics serves), in chunks: prom-client's
   * registry, then the per-partition series. The broker's partitions are read once for all of
   * them, a slice at a time.
   */
  async *exposition(): AsyncGenerator<string> {
    const scraped = new ScrapedPartitions(await takeSliced(this.source.partitions()));
    yield `${await this.registry.metrics()}\n`;
    yield* this.series.chunks(scraped);
  }

  private totalsOfTopic(topic: string): TopicTotals {
    let t = this.topicTotals.get(topic);
    if (!t) this.topicTotals.set(topic, (t = { messagesIn: 0, bytesIn: 0, bytesOut: 0 }));
    return t;
  }

  recordProduce(topic: string, records: number, bytes: number): void {
    const t = this.totalsOfTopic(topic);
    t.messagesIn += records;
    t.bytesIn += bytes;
  }

  recordFetch(topic: string, bytes: number): void {
    if (bytes > 0) this.totalsOfTopic(topic).bytesOut += bytes;
  }

  authentication(listener: string, mechanism: string, succeeded: boolean): void {
    (succeeded ? this.authSuccesses : this.authFailures).inc({ listener, mechanism });
  }

  authorizationDenied(resourceType: string, operation: string): void {
    this.authzDenials.inc({ resource_type: resourceType, operation });
  }

  /** Starts timing a request; the returned function ends it. */
  startRequest(api: string): () => void {
    let r = this.requestTotals.get(api);
    if (!r) this.requestTotals.set(api, (r = { started: 0, seconds: this.requestSeconds.of(api) }));
    r.started++;
    const seconds = r.seconds;
    const start = performance.now();
    return () => seconds.observe((performance.now() - start) / 1000);
  }
}

/** The partitions as one scrape read them: once, for every family that needs them. */
class ScrapedPartitions {
  private byTopic: Map<string, number[]> | null = null;

  constructor(readonly all: readonly PartitionState[]) {}

  /** A replica's high watermark, if it is here; indexed on first use, by topic rather than by a key string per partition. */
  highWatermark(topic: string, partition: number): number | undefined {
    if (this.byTopic === null) {
      this.byTopic = new Map();
      for (const p of this.all) {
        let marks = this.byTopic.get(p.topic);
        if (!marks) this.byTopic.set(p.topic, (marks = []));
        marks[p.partition] = p.highWatermark;
      }
    }
    return this.byTopic.get(topic)?.[partition];
  }
}

interface TopicTotals {
  messagesIn: number;
  bytesIn: number;
  bytesOut: number;
}

interface RequestTotals {
  started: number;
  seconds: HistogramTotals;
}

function* map<T>(totals: ReadonlyMap<string, T>, pick: (t: T) => number): Iterable<readonly [string, number]> {
  for (const [key, t] of totals) yield [key, pick(t)];
}
