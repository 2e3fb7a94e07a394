"""A confluent-kafka consumer-group member that reports what it does as JSON lines on stdout.

Events: ``assigned``/``revoked``/``lost`` (from the rebalance callbacks, with the partitions
the callback was given and librdkafka's rebalance protocol), ``committed`` (the group's committed
offsets of its first assignment, read with ``committed()``), ``message``, ``error``, and
``closed`` once ``close()`` has returned (and with it the LeaveGroup). Each carries ``at``, the
system's monotonic clock in seconds, so the events of several members can be put in one order. SIGTERM, or
``--max-messages``, makes it close cleanly; SIGKILL is how a test makes it die without leaving.
"""

import argparse
import json
import signal
import sys
import time

from confluent_kafka import Consumer, KafkaException

from librdkafka_c import rebalance_protocol


def emit(event, **fields):
    print(json.dumps({"event": event, "at": time.monotonic(), **fields}), flush=True)


def partition_list(partitions):
    return sorted(tp.partition for tp in partitions)


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("bootstrap")
    parser.add_argument("group")
    parser.add_argument("topic")
    parser.add_argument("--strategy", default="range")
    parser.add_argument("--session-timeout-ms", type=int, default=6000)
    parser.add_argument(
        "--commit",
        choices=("auto", "sync"),
        default="auto",
        help="auto: librdkafka's periodic commits (and on revoke and close); sync: commit() after each message",
    )
    parser.add_argument(
        "--max-messages", type=int, default=0, help="close after this many messages (0: run until SIGTERM)"
    )
    parser.add_argument("--report-committed", action="store_true")
    parser.add_argument("--instance-id", default=None, help="group.instance.id: a static member")
    return parser.parse_args()


def main():
    args = parse_args()
    stopping = False

    def on_sigterm(_signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_sigterm)

    client_id = f"sluice-test-{args.group}"
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "client.id": client_id,
            "partition.assignment.strategy": args.strategy,
            "session.timeout.ms": args.session_timeout_ms,
            "heartbeat.interval.ms": 500,
            # Bounds how long a rebalance can wait for a member that stopped polling.
            "max.poll.interval.ms": max(10_000, args.session_timeout_ms),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": args.commit == "auto",
            "auto.commit.interval.ms": 500,
            **({"group.instance.id": args.instance_id} if args.instance_id else {}),
        }
    )

    # The callbacks report the partitions they are given: under the cooperative protocol those
    # are the increments, under the eager one the whole old and new assignments.
    def rebalanced(event, partitions):
        emit(event, partitions=partition_list(partitions), protocol=rebalance_protocol(consumer, client_id))

    consumer.subscribe(
        [args.topic],
        on_assign=lambda _c, ps: rebalanced("assigned", ps),
        on_revoke=lambda _c, ps: rebalanced("revoked", ps),
        on_lost=lambda _c, ps: rebalanced("lost", ps),
    )

    reported_committed = False
    consumed = 0
    try:
        while not stopping:
            msg = consumer.poll(0.2)
            if args.report_committed and not reported_committed:
                assignment = consumer.assignment()
                if assignment:
                    committed = consumer.committed(assignment, timeout=10)
                    emit("committed", offsets={str(tp.partition): tp.offset for tp in committed})
                    reported_committed = True
            if msg is None:
                continue
            if msg.error():
                emit("error", error=str(msg.error()))
                continue
            emit("message", partition=msg.partition(), offset=msg.offset(), value=msg.value().decode())
            if args.commit == "sync":
                # Commits the offset after this message, and waits for the broker to confirm it.
                consumer.commit(message=msg, asynchronous=False)
            consumed += 1
            if args.max_messages and consumed >= args.max_messages:
                break
        if args.commit == "sync":
            final = consumer.committed(consumer.assignment(), timeout=10)
            emit("final-committed", offsets={str(tp.partition): tp.offset for tp in final})
    except KafkaException as e:
        emit("error", error=str(e))
        consumer.close()
        sys.exit(1)
    consumer.close()
    emit("closed")


if __name__ == "__main__":
    main()
