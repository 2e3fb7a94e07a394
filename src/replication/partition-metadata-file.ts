import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomically } from '../storage/checkpoint-file.js';
import { listedOrExists, type Listing } from '../storage/directory-listing.js';

const FILE = 'partition.metadata';

/** Kafka's form of a topic id in files: the 16 bytes in URL-safe base64, unpadded. */
function toKafkaId(uuid: string): string {
  return Buffer.from(uuid.replaceAll('-', ''), 'hex').toString('base64url');
}

function fromKafkaId(id: string): string {
  const hex = Buffer.from(id, 'base64url').toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Kafka's `partition.metadata` in a partition directory: the id of the topic the log belongs
 * to. A broker away while its topic was deleted and created again under the same name finds a
 * log of the old topic, and must not serve it as the new one's.
 */
export function readPartitionTopicId(dir: string, listing?: Listing | null): string | null {
  const path = join(dir, FILE);
  if (!listedOrExists(path, listing)) return null;
  const m = /^topic_id:\s*(\S+)\s*$/m.exec(readFileSync(path, 'utf8'));
  return m ? fromKafkaId(m[1]) : null;
}

export function writePartitionTopicId(dir: string, topicId: string): void {
  // Rebuilt from the metadata when lost: not worth a flush per partition.
  writeFileAtomically(join(dir, FILE), `version: 0\ntopic_id: ${toKafkaId(topicId)}\n`, false);
}
