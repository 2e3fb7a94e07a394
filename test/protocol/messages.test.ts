import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import * as generated from '../../src/protocol/generated/index.js';
import type { MessageCodec } from '../../src/protocol/codec-runtime.js';
import { ProtocolError } from '../../src/protocol/protocol-error.js';
import { Reader } from '../../src/protocol/primitives/reader.js';
import { arbitraryMessage, versionsOf } from '../support/arbitrary-message.js';
import { specsOrExplain } from '../support/specs.js';

const codecs = generated as unknown as Record<string, MessageCodec<unknown>>;

test('every message round-trips at every valid version with random values', (t) => {
  const specs = specsOrExplain(t);
  if (!specs) return;
  let pairs = 0;
  for (const spec of specs.messages) {
    const codec = codecs[`${spec.name}Codec`];
    assert.ok(codec, `no codec generated for ${spec.name}`);
    for (const version of versionsOf(spec)) {
      pairs++;
      fc.assert(
        fc.property(arbitraryMessage(spec, version), (message) => {
          const bytes = codec.encode(message, version);
          const r = new Reader(bytes);
          const decoded = codec.read(r, version);
          assert.equal(r.remaining, 0, `${spec.name} v${version} left bytes unread`);
          assert.deepStrictEqual(decoded, message, `${spec.name} v${version}`);
          assert.ok(codec.encode(decoded, version).equals(bytes), `${spec.name} v${version} re-encodes differently`);
        }),
        { numRuns: 40 },
      );
    }
  }
  assert.ok(pairs >= 700, `only ${pairs} message versions checked`);
});

test('a non-default field that a version lacks cannot be encoded, unless it is ignorable', () => {
  const produce = generated.createProduceRequest();
  produce.transactionalId = 'tx-1';
  assert.throws(() => generated.ProduceRequestCodec.encode(produce, 2), (e) => e instanceof ProtocolError && e.kind === 'unencodable');
  assert.ok(generated.ProduceRequestCodec.encode(produce, 3).length > 0);

  // ClientId is ignorable: header v0 simply leaves it out.
  const header = { ...generated.createRequestHeader(), clientId: 'sluice' };
  const v0 = generated.RequestHeaderCodec.encode(header, 0);
  assert.equal(v0.length, 8);
  assert.equal(generated.RequestHeaderCodec.decode(v0, 0).clientId, '', 'absent fields decode to their default');
});

test('null is refused where a version does not allow it, on both sides', () => {
  const m = generated.createMetadataRequest();
  m.topics = null; // nullable from v1: "all topics"
  assert.throws(() => generated.MetadataRequestCodec.encode(m, 0), ProtocolError);
  const v1 = generated.MetadataRequestCodec.encode(m, 1);
  assert.deepEqual(v1, Buffer.from([0xff, 0xff, 0xff, 0xff]));
  assert.throws(() => generated.MetadataRequestCodec.decode(v1, 0), (e) => e instanceof ProtocolError && e.kind === 'invalid-length');
});

test('known tagged fields are typed and written only when they differ from the default', () => {
  const res = generated.createProduceResponse();
  res.nodeEndpoints = [{ nodeId: 1, host: 'h', port: 9092, rack: null }];
  const withTag = generated.ProduceResponseCodec.encode(res, 10);
  const decoded = generated.ProduceResponseCodec.decode(withTag, 10);
  assert.deepStrictEqual(decoded.nodeEndpoints, res.nodeEndpoints);
  const without = generated.ProduceResponseCodec.encode(generated.createProduceResponse(), 10);
  assert.ok(withTag.length > without.length);
  assert.equal(without.at(-1), 0, 'an empty tagged section is one zero byte');
});

test('versions outside the valid range are refused', () => {
  assert.throws(() => generated.ProduceRequestCodec.encode(generated.createProduceRequest(), 12), (e) => e instanceof ProtocolError && e.kind === 'unsupported-version');
  assert.throws(() => generated.ProduceRequestCodec.decode(Buffer.alloc(16), -1), ProtocolError);
});

test('the api table lists each api with its versions and codecs', () => {
  assert.equal(generated.apis.Produce.apiKey, 0);
  assert.equal(generated.apis.ApiVersions.apiKey, 18);
  assert.equal(generated.apis.Fetch.flexibleFrom, 12);
  assert.equal(generated.apiByKey(3)?.name, 'Metadata');
  assert.equal(generated.apiByKey(3)?.request, generated.MetadataRequestCodec);
  assert.equal(generated.apiByKey(9999), undefined);
  assert.equal(generated.ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 3);
  assert.equal(generated.errorByCode(35)?.name, 'UNSUPPORTED_VERSION');
  assert.equal(generated.errorByCode(7)?.retriable, true);
});
