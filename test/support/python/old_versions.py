"""kafka-python 2.0.2 speaking old protocol versions to a broker, for the version-floor tests.

Each subcommand prints one JSON document on stdout.

- ``legacy-offsets``: a consumer told the broker is 0.10.0 asks for the first and last offsets
  with ListOffsets v0 (maxNumOffsets 1).
- ``commit``: a consumer told the broker is 0.8.1 (OffsetCommit v0, OffsetFetch v0) or 0.8.2
  (FindCoordinator v0, OffsetCommit v1, OffsetFetch v1) commits an offset and reads it back.
- ``admin``: the admin client's describe_configs, list_consumer_group_offsets and
  describe_consumer_groups (with authorized operations), and a consumer's offsets_for_times
  (ListOffsets v1+), in whatever versions kafka-python picks from ApiVersions.
"""

import argparse
import json
import logging
import os
import sys

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.structs import OffsetAndMetadata

TIMEOUT_MS = 15_000


def legacy_offsets(args):
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap, api_version=(0, 10, 0), request_timeout_ms=TIMEOUT_MS + 1000)
    try:
        tps = [TopicPartition(args.topic, p) for p in range(args.partitions)]
        first = consumer.beginning_offsets(tps)
        last = consumer.end_offsets(tps)
        return {"beginning": [first[tp] for tp in tps], "end": [last[tp] for tp in tps]}
    finally:
        consumer.close()


def commit(args):
    version = tuple(int(x) for x in args.api_version.split("."))
    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        api_version=version,
        group_id=args.group,
        enable_auto_commit=False,
        session_timeout_ms=10_000,
        request_timeout_ms=TIMEOUT_MS + 1000,
    )
    try:
        tp = TopicPartition(args.topic, 0)
        consumer.commit({tp: OffsetAndMetadata(args.offset, "meta")})
        return {"committed": consumer.committed(tp)}
    finally:
        consumer.close(autocommit=False)


def admin(args):
    client = KafkaAdminClient(bootstrap_servers=args.bootstrap, request_timeout_ms=TIMEOUT_MS)
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap, request_timeout_ms=TIMEOUT_MS + 1000)
    try:
        configs = client.describe_configs([ConfigResource(ConfigResourceType.TOPIC, args.topic)])
        described = {}
        for response in configs:
            for _error, _message, _type, _name, entries in response.resources:
                for entry in entries:
                    described[entry[0]] = entry[1]
        offsets = client.list_consumer_group_offsets(args.group)
        groups = client.describe_consumer_groups([args.group], include_authorized_operations=True)
        tp = TopicPartition(args.topic, 0)
        by_time = consumer.offsets_for_times({tp: args.timestamp})[tp]
        return {
            "configs": described,
            "offsets": {f"{tp.topic}:{tp.partition}": o.offset for tp, o in offsets.items()},
            "groups": [{"id": g.group, "state": g.state, "authorized_operations": g.authorized_operations} for g in groups],
            "offsets_for_times": None if by_time is None else {"offset": by_time.offset, "timestamp": by_time.timestamp},
        }
    finally:
        consumer.close()
        client.close()


def main():
    if os.environ.get("OLD_VERSIONS_DEBUG"):
        logging.basicConfig(level=logging.DEBUG)
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["legacy-offsets", "commit", "admin"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--group", default="")
    parser.add_argument("--api-version", default="0.8.2")
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--timestamp", type=int, default=0)
    args = parser.parse_args()
    run = {"legacy-offsets": legacy_offsets, "commit": commit, "admin": admin}[args.command]
    json.dump(run(args), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
