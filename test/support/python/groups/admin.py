"""Topic set-up and consumer-group admin for the librdkafka group tests.

Each subcommand prints one JSON document on stdout. The group operations go through
librdkafka_c (librdkafka's Admin API); `legacy-groups` through confluent-kafka 1.7's own
AdminClient.list_groups (ListGroups then DescribeGroups), and `lag` through a consumer's
get_watermark_offsets.
"""

import argparse
import json

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from librdkafka_c import Admin

TIMEOUT_S = 15


def create_topic(args):
    # The client must outlive the future: destroying it fails whatever is still in flight.
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    topic = NewTopic(args.topic, num_partitions=args.partitions, replication_factor=1)
    futures = admin.create_topics([topic], operation_timeout=TIMEOUT_S)
    futures[args.topic].result(TIMEOUT_S)
    return {"created": args.topic}


def _consumer(bootstrap, group):
    return Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})


def lag(args):
    """Per partition: the log end offset, the group's committed offset, and their difference."""
    with Admin(args.bootstrap) as admin:
        committed = admin.list_consumer_group_offsets(args.group, [(args.topic, p) for p in range(args.partitions)])
    # A consumer of the group asks for watermarks only; it never subscribes, so it never joins.
    consumer = _consumer(args.bootstrap, args.group)
    try:
        rows = []
        for entry in committed["partitions"]:
            partition, offset = entry["partition"], entry["offset"]
            _low, high = consumer.get_watermark_offsets(TopicPartition(args.topic, partition), timeout=TIMEOUT_S)
            rows.append({"partition": partition, "committed": offset, "end": high, "lag": high - offset})
        return {"error": committed["error"], "partitions": rows}
    finally:
        consumer.close()


def alter(args):
    """Resets the group's offsets of every partition of the topic to `earliest` or an offset."""
    consumer = _consumer(args.bootstrap, args.group)
    try:
        offsets = []
        for p in range(args.partitions):
            low, _high = consumer.get_watermark_offsets(TopicPartition(args.topic, p), timeout=TIMEOUT_S)
            offsets.append((args.topic, p, low if args.to == "earliest" else int(args.to)))
    finally:
        consumer.close()
    with Admin(args.bootstrap) as admin:
        return admin.alter_consumer_group_offsets(args.group, offsets)


def with_admin(call):
    """A subcommand that is one call of the Admin API."""

    def run(args):
        with Admin(args.bootstrap) as admin:
            return call(admin, args)

    return run


def legacy_groups(args):
    groups = AdminClient({"bootstrap.servers": args.bootstrap}).list_groups(timeout=TIMEOUT_S)
    return [
        {
            "id": g.id,
            "error": None if g.error is None else str(g.error),
            "state": g.state,
            "protocol_type": g.protocol_type,
            "protocol": g.protocol,
            "members": [
                {"id": m.id, "client_id": m.client_id, "client_host": m.client_host}
                for m in sorted(g.members, key=lambda m: m.id)
            ],
        }
        for g in sorted(groups, key=lambda g: g.id)
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bootstrap")
    commands = parser.add_subparsers(dest="command", required=True)

    c = commands.add_parser("create-topic")
    c.add_argument("topic")
    c.add_argument("partitions", type=int)
    c.set_defaults(run=create_topic)

    c = commands.add_parser("list")
    c.add_argument("--state", action="append", default=[])
    c.set_defaults(run=with_admin(lambda admin, a: admin.list_consumer_groups(a.state)))

    c = commands.add_parser("describe")
    c.add_argument("groups", nargs="+")
    c.set_defaults(run=with_admin(lambda admin, a: admin.describe_consumer_groups(a.groups)))

    c = commands.add_parser("offsets")
    c.add_argument("group")
    c.set_defaults(run=with_admin(lambda admin, a: admin.list_consumer_group_offsets(a.group)))

    c = commands.add_parser("lag")
    c.add_argument("group")
    c.add_argument("topic")
    c.add_argument("partitions", type=int)
    c.set_defaults(run=lag)

    c = commands.add_parser("alter")
    c.add_argument("group")
    c.add_argument("topic")
    c.add_argument("partitions", type=int)
    c.add_argument("to", help="earliest, or an offset")
    c.set_defaults(run=alter)

    c = commands.add_parser("delete")
    c.add_argument("groups", nargs="+")
    c.set_defaults(run=with_admin(lambda admin, a: admin.delete_consumer_groups(a.groups)))

    c = commands.add_parser("legacy-groups")
    c.set_defaults(run=legacy_groups)

    args = parser.parse_args()
    print(json.dumps(args.run(args)), flush=True)


if __name__ == "__main__":
    main()
