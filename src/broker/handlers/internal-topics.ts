import { OFFSETS_TOPIC } from '../../coordinator/offsets-topic-records.js';

/** The topics Kafka keeps its own state in (Kafka's Topic.isInternal). */
const INTERNAL_TOPICS: ReadonlySet<string> = new Set([OFFSETS_TOPIC, '__transaction_state']);

/**
 * Clients may read these but neither delete them nor delete their records: that would drop
 * committed offsets under the group coordinator.
 */
export const isInternalTopic = (name: string): boolean => INTERNAL_TOPICS.has(name);
