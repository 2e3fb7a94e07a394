import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readPropertiesFile } from '../config/properties-file.js';
import { writeFileAtomically } from '../storage/checkpoint-file.js';

const META_PROPERTIES = 'meta.properties';

/** What Kafka's meta.properties in a log directory says it belongs to. */
export interface DirectoryIdentity {
  clusterId: string | null;
  nodeId: number | null;
}

/** The identity recorded in `dir`, as far as it is recorded. */
export function readIdentity(dir: string): DirectoryIdentity {
  const path = join(dir, META_PROPERTIES);
  if (!existsSync(path)) return { clusterId: null, nodeId: null };
  const props = readPropertiesFile(path);
  return { clusterId: props.get('cluster.id') ?? null, nodeId: props.has('node.id') ? Number(props.get('node.id')) : null };
}

/**
 * Checks that `dir` belongs to this node and cluster, and records them when it is new: a
 * directory of another node, or of another cluster, is refused before anything is written.
 * `clusterId` null: adopt the directory's, or `fresh` when it has none.
 */
export function claimDirectory(dir: string, nodeId: number, clusterId: string | null, fresh: () => string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, META_PROPERTIES);
  const found = readIdentity(dir);
  if (found.nodeId !== null && found.nodeId !== nodeId) {
    throw new Error(`${path} belongs to node ${found.nodeId}, but this broker is node ${nodeId}`);
  }
  if (found.clusterId !== null && clusterId !== null && found.clusterId !== clusterId) {
    throw new Error(`${path} belongs to cluster ${found.clusterId}, but the metadata store holds cluster ${clusterId}: is the broker pointed at another cluster's metadata?`);
  }
  const id = clusterId ?? found.clusterId ?? fresh();
  if (found.clusterId !== id || found.nodeId !== nodeId) {
    writeFileAtomically(path, `#Written by Sluice\nversion=1\ncluster.id=${id}\nnode.id=${nodeId}\n`);
  }
  return id;
}
