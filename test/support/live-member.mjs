// What the group member scripts of test/support/live-group.ts share: the JSON lines they print
// (LiveEvent there), how they leave on SIGTERM, and how they process a record.

/** A member called `name`; `close()` makes its client leave the group. */
export function liveMember(name, close) {
  const say = (o) => process.stdout.write(`${JSON.stringify({ name, ...o })}\n`);
  // The next offset to process per topic-partition, as this member has committed it: a client may
  // deliver again what it fetched before an assignment change refreshed its positions.
  const position = new Map();
  const member = {
    say,
    stopping: false,
    /**
     * Processes a record the way a careful application does: nothing for a partition it no
     * longer owns (the client may still hold records fetched before a revocation), nothing it has
     * committed past; else reports it, then commits it with `commit()`.
     */
    async process(topic, partition, offset, value, owns, commit) {
      const key = `${topic}:${partition}`;
      if (!owns(topic, partition) || offset < (position.get(key) ?? -1)) {
        say({ event: 'skipped', partition, offset });
        return;
      }
      say({ event: 'message', partition, offset, value });
      try {
        await commit();
        position.set(key, offset + 1);
        say({ event: 'committed', partition, offset });
      } catch (err) {
        say({ event: 'commit-failed', partition, offset, error: String(err?.message ?? err) });
      }
    },
  };
  process.on('SIGTERM', () => {
    member.stopping = true;
    close().then(
      () => {
        say({ event: 'closed' });
        process.exit(0);
      },
      (err) => {
        process.stderr.write(`close failed: ${err?.stack ?? err}\n`);
        process.exit(1);
      },
    );
  });
  return member;
}
