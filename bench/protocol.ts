/**
 * Protocol codec throughput: Produce requests and Fetch responses with their record batches,
 * the broker's validating scan of produced batches (per record, next to the CRC32C of the same
 * bytes, which the scan includes), and every CRC32C implementation this process can load against
 * the pure-JS one.
 *
 *   npm run bench:protocol [-- --json[=file]] [-- --only=scan]
 */
import { emitJsonReport, jsonTarget } from './support/json-report.js';
import { CompressionType, compressionName } from '../src/protocol/compression/index.js';
import { apis } from '../src/protocol/generated/api-table.js';
import type { FetchResponse } from '../src/protocol/generated/messages/fetch-response.js';
import {
  createFetchResponse,
  createFetchResponseFetchableTopicResponse,
  createFetchResponsePartitionData,
} from '../src/protocol/generated/messages/fetch-response.js';
import type { ProduceRequest } from '../src/protocol/generated/messages/produce-request.js';
import { decodeRequestFrame, decodeResponseFrame, encodeRequestFrame, encodeResponseFrame } from '../src/protocol/headers.js';
import {
  batchSpans,
  crc32c,
  crc32cImplementation,
  crc32cImplementations,
  decodeRecordBatch,
  encodeRecordBatch,
  validateRecordBatch,
  type RecordInput,
} from '../src/protocol/records/index.js';
import { fmt, measure, processStats, table, type Measurement } from './support/measure.js';

const PRODUCE_VERSION = apis.Produce.maxVersion;
const FETCH_VERSION = apis.Fetch.maxVersion;
const RECORDS_PER_PRODUCE = 1_000;
const FETCH_PARTITIONS = 8;
const BATCHES_PER_PARTITION = 4;
const BASE_TIMESTAMP = 1_700_000_000_000n;
const CODECS = [CompressionType.None, CompressionType.Lz4, CompressionType.Zstd];

/**
 * About 100-byte records shaped like typical JSON events, so compression ratios are realistic
 * rather than the best case of repeated bytes or the worst of random ones.
 */
function sampleRecords(count: number, first = 0): RecordInput[] {
  return Array.from({ length: count }, (_, i) => {
    const n = first + i;
    return {
      key: Buffer.from(`user-${n % 997}`),
      value: Buffer.from(
        JSON.stringify({ id: n, event: n % 3 ? 'click' : 'view', page: `/products/${n % 113}`, ref: `/search?q=item-${(n * 7919) % 9973}`, ms: 1_000 + ((n * 31) % 9000) }),
      ),
      timestampDelta: i,
    };
  });
}

interface Row {
  name: string;
  bytesPerOp: number;
  result: Measurement;
}

const rows: Row[] = [];

async function bench(name: string, bytesPerOp: number, fn: () => unknown): Promise<void> {
  rows.push({ name, bytesPerOp, result: await measure(fn, { bytesPerOp }) });
}

function produceBody(batch: Buffer): ProduceRequest {
  return { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: 'bench', partitionData: [{ index: 0, records: batch }] }] };
}

/** Size prefix off: decoders take what the network layer cut out of the stream. */
const unframed = (frame: Buffer): Buffer => frame.subarray(4);

async function benchProduce(): Promise<void> {
  const records = sampleRecords(RECORDS_PER_PRODUCE);
  for (const compression of CODECS) {
    const encodeBatch = (): Buffer => encodeRecordBatch({ baseTimestamp: BASE_TIMESTAMP, compression, records });
    const encode = (): Buffer =>
      encodeRequestFrame({ correlationId: 1, clientId: 'bench' }, apis.Produce.apiKey, PRODUCE_VERSION, produceBody(encodeBatch()));
    const frame = encode();
    const batch = encodeBatch();
    const label = `produce v${PRODUCE_VERSION}, ${RECORDS_PER_PRODUCE} records, ${compressionName(compression)}`;
    await bench(`${label}: encode (batch + frame)`, frame.length, encode);
    await bench(`${label}: decode (frame + batch)`, frame.length, () => {
      const body = decodeRequestFrame(unframed(frame)).body as ProduceRequest;
      return decodeRecordBatch(body.topicData[0].partitionData[0].records as Buffer);
    });
    await bench(`${label}: validating scan`, batch.length, () => validateRecordBatch(batch));
  }
}

/** About 1 MiB of records over several partitions, each a few uncompressed batches. */
function fetchResponse(): FetchResponse {
  const probe = encodeRecordBatch({ baseTimestamp: BASE_TIMESTAMP, records: sampleRecords(1_000) });
  const recordsPerBatch = Math.round((2 ** 20 / FETCH_PARTITIONS / BATCHES_PER_PARTITION) * (1_000 / probe.length));
  const partitions = Array.from({ length: FETCH_PARTITIONS }, (_, index) => {
    const batches = Array.from({ length: BATCHES_PER_PARTITION }, (_, b) =>
      encodeRecordBatch({
        baseOffset: BigInt(b * recordsPerBatch),
        baseTimestamp: BASE_TIMESTAMP,
        records: sampleRecords(recordsPerBatch, b * recordsPerBatch),
      }),
    );
    const end = BigInt(BATCHES_PER_PARTITION * recordsPerBatch);
    return { ...createFetchResponsePartitionData(), partitionIndex: index, highWatermark: end, lastStableOffset: end, records: Buffer.concat(batches) };
  });
  const topic = { ...createFetchResponseFetchableTopicResponse(), topic: 'bench', topicId: '6f2c1a5e-3b8d-4e71-9a0c-2d4f6b8e1c37', partitions };
  return { ...createFetchResponse(), responses: [topic] };
}

async function benchFetch(): Promise<void> {
  const body = fetchResponse();
  const encode = (): Buffer => encodeResponseFrame(1, apis.Fetch.apiKey, FETCH_VERSION, body);
  const frame = encode();
  const label = `fetch v${FETCH_VERSION}, ${FETCH_PARTITIONS} partitions, ${(frame.length / 2 ** 20).toFixed(2)} MiB`;
  await bench(`${label}: encode (frame)`, frame.length, encode);
  await bench(`${label}: decode (frame + batches)`, frame.length, () => {
    const decoded = decodeResponseFrame(unframed(frame), apis.Fetch.apiKey, FETCH_VERSION).body as FetchResponse;
    for (const p of decoded.responses[0].partitions) {
      const records = p.records as Buffer;
      for (const { offset } of batchSpans(records, { allowPartialTail: true })) decodeRecordBatch(records, { offset });
    }
  });
}

/** Batches shaped like the broker benchmark's librdkafka producer: no key, linger-sized, 1 MB. */
const SCAN_BATCH_BYTES = 1_000_000;
const SCAN_VALUE_SIZES = [100, 1024];

interface ScanRow {
  valueBytes: number;
  records: number;
  batchBytes: number;
  /** validateRecordBatch of the whole batch: CRC, header, then the record walk. */
  scan: Measurement;
  /** CRC32C alone over the same bytes, so the walk's own cost is the difference. */
  crc: Measurement;
}

async function benchScan(): Promise<ScanRow[]> {
  const out: ScanRow[] = [];
  for (const valueBytes of SCAN_VALUE_SIZES) {
    const value = Buffer.alloc(valueBytes, 0x61);
    const count = Math.floor(SCAN_BATCH_BYTES / (valueBytes + 8));
    const records = Array.from({ length: count }, (_, i) => ({ key: null, value, timestampDelta: i >> 6 }));
    const batch = encodeRecordBatch({ baseTimestamp: BASE_TIMESTAMP, records });
    const options = { bytesPerOp: batch.length, seconds: 1.5, warmupSeconds: 0.5 };
    out.push({
      valueBytes,
      records: count,
      batchBytes: batch.length,
      scan: await measure(() => validateRecordBatch(batch), options),
      crc: await measure(() => crc32c(batch), options),
    });
  }
  return out;
}

const perRecordNs = (m: Measurement, records: number): number => 1e9 / (m.opsPerSec * records);

function printScan(scan: ScanRow[]): void {
  console.log(
    table(
      ['validating scan, 1 MB batch', 'records', 'records/s', 'ns/record', 'CRC ns/record', 'walk ns/record', 'MB/s'],
      scan.map(({ valueBytes, records, scan: s, crc }) => [
        `${valueBytes} B values, no key`,
        records.toLocaleString('en-US'),
        fmt(s.opsPerSec * records),
        perRecordNs(s, records).toFixed(1),
        perRecordNs(crc, records).toFixed(1),
        (perRecordNs(s, records) - perRecordNs(crc, records)).toFixed(1),
        fmt(s.mbPerSec),
      ]),
    ),
  );
}

interface CrcRow {
  size: number;
  /** By implementation name, the first being the one the broker uses. */
  results: Record<string, Measurement>;
}

async function benchCrc(): Promise<CrcRow[]> {
  const out: CrcRow[] = [];
  for (const size of [100, 1024, 16 * 1024, 2 ** 20]) {
    const buf = Buffer.alloc(size, 0xa5);
    const options = { bytesPerOp: size, seconds: 0.8, warmupSeconds: 0.2 };
    const results: Record<string, Measurement> = {};
    for (const { name, crc32c: f } of crc32cImplementations) results[name] = await measure(() => f(buf), options);
    out.push({ size, results });
  }
  return out;
}

const sizeLabel = (n: number): string => (n >= 2 ** 20 ? `${n / 2 ** 20} MiB` : n >= 1024 ? `${n / 1024} KiB` : `${n} B`);

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--only=scan')) {
    const scan = await benchScan();
    if (emitJsonReport(jsonTarget(args), { node: process.version, crc32c: crc32cImplementation, scan })) return;
    console.log(`sluice protocol bench (validating scan only): node ${process.version}, crc32c ${crc32cImplementation}\n`);
    printScan(scan);
    return;
  }
  await benchProduce();
  const scan = await benchScan();
  await benchFetch();
  const crc = await benchCrc();
  const stats = processStats();

  const report = { node: process.version, platform: `${process.platform}-${process.arch}`, crc32c: crc32cImplementation, cases: rows, scan, crc, process: stats };
  if (emitJsonReport(jsonTarget(args), report)) return;

  console.log(`sluice protocol bench: node ${process.version}, ${process.platform}-${process.arch}, crc32c ${crc32cImplementation}\n`);
  console.log(
    table(
      ['case', 'bytes/op', 'ops/s', 'MB/s', 'p50 µs', 'p99 µs'],
      rows.map(({ name, bytesPerOp, result: r }) => [name, bytesPerOp.toLocaleString('en-US'), fmt(r.opsPerSec), fmt(r.mbPerSec), fmt(r.p50Us), fmt(r.p99Us)]),
    ),
  );
  console.log();
  printScan(scan);
  console.log();
  console.log(
    table(
      ['crc32c', ...crc32cImplementations.map((i) => `${i.name} MB/s`), `${crc32cImplementation}/js`],
      crc.map(({ size, results }) => [
        sizeLabel(size),
        ...crc32cImplementations.map((i) => fmt(results[i.name].mbPerSec)),
        `${((results[crc32cImplementation].mbPerSec ?? 0) / (results.js.mbPerSec ?? 1)).toFixed(2)}x`,
      ]),
    ),
  );
  console.log();
  console.log(
    `process: cpu ${fmt(stats.cpuUserMs)} ms user + ${fmt(stats.cpuSystemMs)} ms system over ${fmt(stats.wallMs)} ms wall; ` +
      `peak RSS ${fmt(stats.peakRssMiB)} MiB; peak heap used ${fmt(stats.peakHeapUsedMiB)} MiB`,
  );
}

await main();
