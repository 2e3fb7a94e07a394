import kafkajs from 'kafkajs';
import { CompressionType, compress, decompress } from '../../src/protocol/compression/index.js';
import { DEFAULT_MAX_DECOMPRESSED_BYTES } from '../../src/protocol/records/index.js';

const { CompressionCodecs, CompressionTypes } = kafkajs;

/**
 * kafkajs ships only gzip and takes the other codecs as plug-ins (normally kafkajs-snappy and
 * friends). These adapters plug in Sluice's own compression module instead, so kafkajs can
 * produce every codec without extra packages. kafkajs hands compress() its record encoder and
 * decompress() the raw block.
 */
interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(data: Buffer): Promise<Buffer>;
}

function adapter(type: CompressionType): () => KafkajsCodec {
  const codec: KafkajsCodec = {
    compress: async (encoder) => compress(type, encoder.buffer),
    decompress: async (data) => decompress(type, data, DEFAULT_MAX_DECOMPRESSED_BYTES),
  };
  return () => codec;
}

/** Idempotent; affects every kafkajs client in this process. */
export function registerKafkajsCodecs(): void {
  CompressionCodecs[CompressionTypes.Snappy] = adapter(CompressionType.Snappy);
  CompressionCodecs[CompressionTypes.LZ4] = adapter(CompressionType.Lz4);
  CompressionCodecs[CompressionTypes.ZSTD] = adapter(CompressionType.Zstd);
}
