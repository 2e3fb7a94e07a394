import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeFetchedRecords } from '../../src/client/fetcher.js';
import { rangeAssign } from '../../src/client/group-consumer.js';
import { decodeAssignment, encodeAssignment } from '../../src/protocol/consumer-protocol.js';
import { DefaultPartitioner, keyPartition, murmur2 } from '../../src/client/partitioner.js';
import { CompressionType } from '../../src/protocol/compression/index.js';
import { encodeRecordBatch } from '../../src/protocol/records/index.js';

// kafkajs's port of Kafka's murmur2, as an independent oracle.
const kafkajsMurmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;

test('murmur2 gives the hashes of Kafka’s own test vectors', () => {
  // From Kafka's UtilsTest.testMurmur2.
  const vectors: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [key, hash] of vectors) assert.equal(murmur2(Buffer.from(key)), hash, key);
});

test('murmur2 agrees with kafkajs on any bytes, so keyed messages land where other producers put them', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 1000 }), (bytes, partitions) => {
      const key = Buffer.from(bytes);
      assert.equal(murmur2(key), kafkajsMurmur2(key));
      assert.equal(keyPartition(key, partitions), (kafkajsMurmur2(key) & 0x7fffffff) % partitions);
    }),
    { numRuns: 2000 },
  );
});

test('unkeyed messages stick to one partition until its batch closes, then move on', () => {
  const p = new DefaultPartitioner(3);
  const first = p.partition(null);
  assert.equal(p.partition(null), first, 'sticky within a batch');
  p.batchClosed((first + 1) % 3);
  assert.equal(p.partition(null), first, 'another partition’s batch closing changes nothing');
  p.batchClosed(first);
  assert.equal(p.partition(null), (first + 1) % 3);
  assert.equal(p.partition(Buffer.from('foobar')), keyPartition(Buffer.from('foobar'), 3), 'keyed ones follow the key');
});

test('the range assignor cuts each topic into consecutive ranges, extras to the first members', () => {
  const subs = new Map([
    ['m-b', ['t1', 't2']],
    ['m-a', ['t1']],
    ['m-c', ['t1', 't2']],
  ]);
  const out = rangeAssign(subs, new Map([['t1', 7], ['t2', 2]]));
  assert.deepEqual(out.get('m-a'), [{ topic: 't1', partitions: [0, 1, 2] }]);
  assert.deepEqual(out.get('m-b'), [
    { topic: 't1', partitions: [3, 4] },
    { topic: 't2', partitions: [0] },
  ]);
  assert.deepEqual(out.get('m-c'), [
    { topic: 't1', partitions: [5, 6] },
    { topic: 't2', partitions: [1] },
  ]);
});

test('a member with nothing assigned gets an empty assignment, which round-trips', () => {
  const out = rangeAssign(new Map([['a', ['t']], ['b', ['t']]]), new Map([['t', 1]]));
  assert.deepEqual(out.get('b'), []);
  assert.deepEqual(decodeAssignment(encodeAssignment(out.get('a')!)), [{ topic: 't', partitions: [0] }]);
  assert.equal(encodeAssignment([]).readInt16BE(0), 0, 'consumer protocol version 0 comes first');
});

function batch(baseOffset: bigint, values: string[], compression: CompressionType = CompressionType.None): Buffer {
  return encodeRecordBatch({ baseOffset, baseTimestamp: 1000n, compression, records: values.map((v, i) => ({ key: null, value: Buffer.from(v), timestampDelta: i })) });
}

test('fetched records: a partial trailing batch is left for the next fetch', () => {
  const whole = Buffer.concat([batch(10n, ['a', 'b']), batch(12n, ['c', 'd'])]);
  for (const cut of [whole.length - 1, whole.length - 30, batch(10n, ['a', 'b']).length + 5]) {
    const { records, nextOffset } = decodeFetchedRecords('t', 0, whole.subarray(0, cut), 10n);
    assert.deepEqual(records.map((r) => r.value!.toString()), ['a', 'b'], `cut at ${cut}`);
    assert.equal(nextOffset, 12n);
  }
  const { records, nextOffset } = decodeFetchedRecords('t', 0, whole, 10n);
  assert.deepEqual(records.map((r) => [r.offset, r.value!.toString(), r.timestamp]), [
    [10n, 'a', 1000n],
    [11n, 'b', 1001n],
    [12n, 'c', 1000n],
    [13n, 'd', 1001n],
  ]);
  assert.equal(nextOffset, 14n);
});

test('fetched records: the records of a compressed batch before the fetch offset are skipped', () => {
  const { records, nextOffset } = decodeFetchedRecords('t', 3, batch(20n, ['x', 'y', 'z'], CompressionType.Gzip), 22n);
  assert.deepEqual(records.map((r) => [r.partition, r.offset, r.value!.toString()]), [[3, 22n, 'z']]);
  assert.equal(nextOffset, 23n);
});

test('fetched records: control batches move the position but are not data', () => {
  const control = encodeRecordBatch({ baseOffset: 5n, baseTimestamp: 0n, control: true, records: [{ key: Buffer.from([0, 0, 0, 0]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }] });
  const { records, nextOffset } = decodeFetchedRecords('t', 0, Buffer.concat([control, batch(6n, ['after'])]), 5n);
  assert.deepEqual(records.map((r) => r.value!.toString()), ['after']);
  assert.equal(nextOffset, 7n);
});
