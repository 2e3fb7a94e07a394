import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { readPropertiesFile } from '../config/properties-file.js';
import { uuidFromBytes } from '../protocol/primitives/uuid.js';
import { join } from 'node:path';
import { writeFileAtomically } from '../storage/checkpoint-file.js';

export interface TopicMetadata {
  name: string;
  /** Kafka topic id, as a dashed UUID string. */
  id: string;
  partitions: number;
  /** Topic config overrides, by Kafka name, as strings (what AlterConfigs sets). */
  configs: Record<string, string>;
}

interface StoredImage {
  version: 1;
  topics: TopicMetadata[];
  brokerConfigs: Record<string, string>;
}

const META_PROPERTIES = 'meta.properties';
const IMAGE_FILE = 'sluice-metadata.json';

/** Kafka's cluster id form: 16 random bytes in URL-safe base64, 22 characters. */
export function newClusterId(): string {
  return randomBytes(16).toString('base64url');
}

export function newTopicId(): string {
  const b = randomBytes(16);
  // Never the all-zero id, which Kafka reserves for "no id".
  b[0] |= 1;
  return uuidFromBytes(b);
}

/** Kafka's topic name rule: 1-249 characters of [a-zA-Z0-9._-], and not "." or "..". */
export function topicNameProblem(name: string): string | null {
  if (name.length === 0) return 'the topic name is empty';
  if (name === '.' || name === '..') return `topic name "${name}" is not allowed`;
  if (name.length > 249) return `topic name is ${name.length} characters long, the limit is 249`;
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) return `topic name "${name}" may only hold ASCII letters, digits, '.', '_' and '-'`;
  return null;
}

/**
 * The single-node metadata image: cluster id (in Kafka's meta.properties), topics with their
 * ids, partition counts and config overrides, and dynamic broker configs. Kept in the first
 * log directory and rewritten atomically on every change, so it survives any crash.
 */
export class MetadataStore {
  readonly clusterId: string;
  private readonly topics = new Map<string, TopicMetadata>();
  private readonly byId = new Map<string, TopicMetadata>();
  brokerConfigs: Record<string, string> = {};

  private constructor(
    private readonly dir: string,
    clusterId: string,
  ) {
    this.clusterId = clusterId;
  }

  static open(dir: string, nodeId: number): MetadataStore {
    mkdirSync(dir, { recursive: true });
    const metaPath = join(dir, META_PROPERTIES);
    let clusterId: string;
    if (existsSync(metaPath)) {
      const props = readPropertiesFile(metaPath);
      clusterId = props.get('cluster.id') ?? newClusterId();
      const stored = Number(props.get('node.id'));
      if (props.has('node.id') && stored !== nodeId) {
        throw new Error(`${metaPath} belongs to node ${stored}, but this broker is node ${nodeId}`);
      }
    } else {
      clusterId = newClusterId();
      writeFileAtomically(metaPath, `#Written by Sluice\nversion=1\ncluster.id=${clusterId}\nnode.id=${nodeId}\n`);
    }
    const store = new MetadataStore(dir, clusterId);
    const imagePath = join(dir, IMAGE_FILE);
    if (existsSync(imagePath)) {
      const image = JSON.parse(readFileSync(imagePath, 'utf8')) as StoredImage;
      for (const t of image.topics) store.index(t);
      store.brokerConfigs = image.brokerConfigs ?? {};
    }
    return store;
  }

  private index(t: TopicMetadata): void {
    this.topics.set(t.name, t);
    this.byId.set(t.id, t);
  }

  private unindex(t: TopicMetadata): void {
    this.topics.delete(t.name);
    this.byId.delete(t.id);
  }

  private persist(): void {
    const image: StoredImage = { version: 1, topics: [...this.topics.values()], brokerConfigs: this.brokerConfigs };
    writeFileAtomically(join(this.dir, IMAGE_FILE), `${JSON.stringify(image, null, 1)}\n`);
  }

  /**
   * Applies a change and writes the image. If either fails (a full disk, too many open files),
   * `undo` takes the change back, so that what this process serves is never what the next
   * start would not find.
   */
  private commit(apply: () => void, undo: () => void): void {
    try {
      apply();
      this.persist();
    } catch (e) {
      undo();
      throw e;
    }
  }

  topic(name: string): TopicMetadata | undefined {
    return this.topics.get(name);
  }

  topicById(id: string): TopicMetadata | undefined {
    return this.byId.get(id);
  }

  allTopics(): TopicMetadata[] {
    return [...this.topics.values()];
  }

  /**
   * Adds a topic. `prepare` runs before the image is written, with the topic already known to
   * this store so that whatever reads its configs (the configs of its new logs) sees them;
   * if it throws, or the write fails, the topic is forgotten and the image stays as it was.
   */
  createTopic(name: string, partitions: number, configs: Record<string, string>, prepare: () => void): TopicMetadata {
    const t: TopicMetadata = { name, id: newTopicId(), partitions, configs };
    this.commit(
      () => {
        this.index(t);
        prepare();
      },
      () => this.unindex(t),
    );
    return t;
  }

  deleteTopic(name: string): void {
    const t = this.topics.get(name);
    if (!t) return;
    this.commit(
      () => this.unindex(t),
      () => this.index(t),
    );
  }

  setPartitionCount(name: string, partitions: number): void {
    const t = this.topics.get(name)!;
    const before = t.partitions;
    this.commit(
      () => (t.partitions = partitions),
      () => (t.partitions = before),
    );
  }

  setTopicConfigs(name: string, configs: Record<string, string>): void {
    const t = this.topics.get(name)!;
    const before = t.configs;
    this.commit(
      () => (t.configs = configs),
      () => (t.configs = before),
    );
  }

  setBrokerConfigs(configs: Record<string, string>): void {
    const before = this.brokerConfigs;
    this.commit(
      () => (this.brokerConfigs = configs),
      () => (this.brokerConfigs = before),
    );
  }
}
