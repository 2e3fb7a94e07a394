import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { LeaderEpochCache } from '../../src/replication/leader-epoch-cache.js';
import { readPartitionTopicId, writePartitionTopicId } from '../../src/replication/partition-metadata-file.js';
import { appendGenerated, openLog, tempDir, testConfig } from '../support/storage-fixtures.js';

const TOPIC_ID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

/**
 * A replica attaching at start-up learns which of partition.metadata and leader-epoch-checkpoint
 * exist from the listing its log made when it opened, not from a stat each. The listing is
 * handed out once: the files may be written after it, and a later reader must look at the disk.
 */
test('the first replica to attach reads the epoch checkpoint and topic id through the opening listing, later ones from the disk', () => {
  const { dir, cleanup } = tempDir('listing');
  const partitionDir = join(dir, 'topic-0');
  try {
    const created = openLog(partitionDir, testConfig());
    const fresh = created.takeOpeningListing();
    assert.deepEqual(fresh && [...fresh], [], 'a log made in a new directory lists nothing');
    assert.equal(readPartitionTopicId(partitionDir, fresh), null);
    writePartitionTopicId(partitionDir, TOPIC_ID);
    const epochs = new LeaderEpochCache(created, fresh);
    assert.deepEqual(epochs.all(), []);
    epochs.assign(4, 0);
    appendGenerated(created, 10, 4);
    const seventhFrom = created.logEndOffset;
    epochs.assign(7, seventhFrom);
    appendGenerated(created, 5, 7);
    created.close();

    const reopened = openLog(partitionDir, testConfig());
    const listing = reopened.takeOpeningListing();
    assert.ok(listing?.has('partition.metadata') && listing.has('leader-epoch-checkpoint'), `listed: ${listing && [...listing].join(', ')}`);
    assert.equal(reopened.takeOpeningListing(), null, 'handed out once');
    assert.equal(readPartitionTopicId(partitionDir, listing), TOPIC_ID);
    assert.deepEqual(new LeaderEpochCache(reopened, listing).all(), [
      { epoch: 4, startOffset: 0 },
      { epoch: 7, startOffset: seventhFrom },
    ]);
    // What the listing says is missing is not read, even when it is there by now.
    assert.equal(readPartitionTopicId(partitionDir, new Set()), null);
    // Without a listing the disk answers.
    assert.equal(readPartitionTopicId(partitionDir, null), TOPIC_ID);
    assert.equal(new LeaderEpochCache(reopened).latestEpoch, 7);
    reopened.close();
  } finally {
    cleanup();
  }
});
