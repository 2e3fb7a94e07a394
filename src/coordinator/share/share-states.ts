/** A share-partition's progress, as DescribeShareGroupOffsets reports it. */
export interface SharePartitionOffset {
  topicId: string;
  partition: number;
  /** The share-partition start offset: every record before it is acknowledged or archived. */
  startOffset: number;
  leaderEpoch: number;
}

/**
 * The share-partition states of share groups (KIP-932), kept on __share_group_state: what the
 * share group coordinator and the offset admin APIs ask of them.
 */
export interface ShareStates {
  /** Groups that have state for some partition: listed and described even without members. */
  groupIds(): string[];
  /** A group's share-partitions. */
  offsets(groupId: string): SharePartitionOffset[];
  /** AlterShareGroupOffsets: new start offsets, in-flight state dropped (the group has no members). */
  alter(groupId: string, changes: { topicId: string; partition: number; startOffset: number }[]): Promise<void>;
  /** DeleteShareGroupOffsets / DeleteGroups: a group's state for these topics, or for all (null). */
  delete(groupId: string, topicIds: string[] | null): Promise<void>;
}
