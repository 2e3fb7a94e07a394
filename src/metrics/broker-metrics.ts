import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { transferStats } from '../native/file-transfer.js';

/** What the metrics read from the broker when scraped, rather than track on every request. */
export interface MetricsSource {
  partitions(): { topic: string; partition: number; size: number; logStartOffset: number; logEndOffset: number; highWatermark: number }[];
  /** Committed offsets of every group, for lag. */
  committedOffsets(): { group: string; topic: string; partition: number; offset: number }[];
}

/**
 * The broker's Prometheus metrics, named as a Kafka operator knows them from Kafka's JMX beans
 * through the usual exporters. One registry per broker, so several embedded brokers in one
 * process keep their numbers apart.
 */
export class BrokerMetrics {
  readonly registry = new Registry();
  private readonly messagesIn: Counter<'topic'>;
  private readonly bytesIn: Counter<'topic'>;
  private readonly bytesOut: Counter<'topic'>;
  private readonly requests: Counter<'request'>;
  private readonly requestSeconds: Histogram<'request'>;

  constructor(source: MetricsSource) {
    const registers = [this.registry];
    this.messagesIn = new Counter({ name: 'kafka_server_brokertopicmetrics_messagesin_total', help: 'Records appended, by topic', labelNames: ['topic'], registers });
    this.bytesIn = new Counter({ name: 'kafka_server_brokertopicmetrics_bytesin_total', help: 'Record batch bytes appended, by topic', labelNames: ['topic'], registers });
    this.bytesOut = new Counter({ name: 'kafka_server_brokertopicmetrics_bytesout_total', help: 'Record bytes sent to fetchers, by topic', labelNames: ['topic'], registers });
    this.requests = new Counter({ name: 'kafka_network_requestmetrics_requests_total', help: 'Requests handled, by API', labelNames: ['request'], registers });
    this.requestSeconds = new Histogram({
      name: 'kafka_network_requestmetrics_totaltime_seconds',
      help: 'Time from reading a request to its response being ready, by API',
      labelNames: ['request'],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    new Gauge({ name: 'kafka_server_replicamanager_underreplicatedpartitions', help: 'Partitions with fewer in-sync replicas than replicas', registers }).set(0);
    new Gauge({
      name: 'kafka_log_log_size',
      help: 'Bytes of a partition log on disk',
      labelNames: ['topic', 'partition'],
      registers,
      collect() {
        this.reset();
        for (const p of source.partitions()) this.set({ topic: p.topic, partition: String(p.partition) }, p.size);
      },
    });
    new Gauge({
      name: 'kafka_log_log_logendoffset',
      help: 'Log end offset of a partition',
      labelNames: ['topic', 'partition'],
      registers,
      collect() {
        this.reset();
        for (const p of source.partitions()) this.set({ topic: p.topic, partition: String(p.partition) }, p.logEndOffset);
      },
    });
    new Gauge({
      name: 'kafka_consumergroup_lag',
      help: 'High watermark minus committed offset, by group and partition',
      labelNames: ['consumergroup', 'topic', 'partition'],
      registers,
      collect() {
        this.reset();
        const hw = new Map(source.partitions().map((p) => [`${p.topic}\0${p.partition}`, p.highWatermark]));
        for (const c of source.committedOffsets()) {
          const end = hw.get(`${c.topic}\0${c.partition}`);
          if (end !== undefined) this.set({ consumergroup: c.group, topic: c.topic, partition: String(c.partition) }, Math.max(0, end - c.offset));
        }
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
  }

  recordProduce(topic: string, records: number, bytes: number): void {
    this.messagesIn.inc({ topic }, records);
    this.bytesIn.inc({ topic }, bytes);
  }

  recordFetch(topic: string, bytes: number): void {
    if (bytes > 0) this.bytesOut.inc({ topic }, bytes);
  }

  /** Starts timing a request; the returned function ends it. */
  startRequest(api: string): () => void {
    this.requests.inc({ request: api });
    return this.requestSeconds.startTimer({ request: api });
  }
}
