"""Transactions through confluent-kafka (librdkafka), for test/cluster/transactions.test.ts.

    txn_workload.py produce --bootstrap B --topic T --partitions N --transactional-id ID ...

runs transactions one after another, each of --records records spread round-robin over the
partitions (record j of transaction i: key "<label>:<i>", value "<label>:<i>:<j>"), with the
consumed position "<i + 1>" of --offsets-group on partition 0 of the topic sent into it
(send_offsets_to_transaction), every --abort-every-th aborted, until --count transactions or
until stdin closes. It follows librdkafka's rules for transactional errors: a retriable one
retries the step, an abortable one aborts the transaction, a fatal one (fenced, ...) ends the
producer, and a new one (init_transactions again: its transactional id's coordinator aborts
what the old one left open, fencing it) goes on with the next transaction. One JSON line per
transaction, once its outcome is known:

    {"txn": i, "outcome": "committed" | "aborted" | "unknown", "records": R,
     "acks": [[partition, offset], ...] (record j at index j, committed ones),
     "ms": [begin, end] (wall clock), "commitMs": EndTxn time (committed ones), "error": "..."}

"unknown": commit_transaction failed fatally, so the transaction may have committed or not (a
checker then wants all of it or none). Then {"reinit": "why"} when a new producer takes over,
and {"summary": {...}} last.

    txn_workload.py read --bootstrap B --topic T --isolation read_committed|read_uncommitted --until VALUE

reads every partition of the topic from its start (assign(), no group) until each has yielded a
record whose value is VALUE, printing {"p", "o", "v"} for each record read, then
{"positions": {partition: next offset}}.
"""

import sys
import threading
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from clients import assign_from_start, emit, stdin_closed, subcommands, text

# How long one step (send_offsets, commit, abort) may take before it is retried; a step waiting
# for a new coordinator after a crash is retried until --step-deadline.
STEP_TIMEOUT_S = 10


def now_ms():
    return round(time.time() * 1000)


class Fatal(Exception):
    """The producer can go no further: a new one must take over its transactional id."""


class Abortable(Exception):
    """The transaction must be aborted (librdkafka's txn_requires_abort)."""


def step(what, call, deadline):
    """Runs a transactional call, again while it fails retriably, until `deadline`."""
    while True:
        try:
            return call()
        except KafkaException as e:
            error = e.args[0]
            if error.fatal():
                raise Fatal(f"{what}: {error}") from e
            if error.txn_requires_abort():
                raise Abortable(f"{what}: {error}") from e
            if not error.retriable() or time.monotonic() > deadline:
                raise Fatal(f"{what}: {error} (not retriable, or still failing after the deadline)") from e
            print(f"{what}: retrying after {error}", file=sys.stderr, flush=True)
            time.sleep(0.1)


class TransactionalProducer:
    def __init__(self, args):
        self.args = args
        config = {
            "bootstrap.servers": args.bootstrap,
            "transactional.id": args.transactional_id,
            "transaction.timeout.ms": args.transaction_timeout_ms,
            "linger.ms": args.linger_ms,
            "reconnect.backoff.max.ms": 1000,
            "socket.connection.setup.timeout.ms": 5000,
            "error_cb": lambda err: print(f"client error: {err}", file=sys.stderr, flush=True),
        }
        for setting in args.set:
            name, value = setting.split("=", 1)
            config[name] = value
        self.producer = Producer(config)
        # A group member's metadata for send_offsets_to_transaction: the group's id, no generation.
        self.consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.offsets_group, "enable.auto.commit": False})
        self.group_metadata = self.consumer.consumer_group_metadata()
        step("init_transactions", lambda: self.producer.init_transactions(STEP_TIMEOUT_S), time.monotonic() + args.step_deadline)

    def close(self):
        self.consumer.close()
        try:
            self.producer.flush(1)
        except KafkaException:
            pass


def produce(args):
    stop = threading.Event() if args.count is not None else stdin_closed()
    label = args.label or args.transactional_id
    summary = {"committed": 0, "aborted": 0, "unknown": 0, "reinits": 0}
    producer = TransactionalProducer(args)
    i = args.first
    while not stop.is_set() and (args.count is None or i < args.first + args.count):
        aborting = args.abort_every > 0 and i % args.abort_every == args.abort_every - 1
        acks = [None] * args.records
        failed = []

        def delivered(err, msg, j):
            if err is None:
                acks[j] = [msg.partition(), msg.offset()]
            else:
                failed.append(f"record {j}: {err}")

        deadline = time.monotonic() + args.step_deadline
        begin = now_ms()
        line = {"txn": i, "records": args.records, "ms": [begin, 0]}
        committing = False
        try:
            try:
                producer.producer.begin_transaction()
                for j in range(args.records):
                    value = f"{label}:{i}:{j}".ljust(args.value_bytes, ".")
                    while True:
                        try:
                            producer.producer.produce(
                                args.topic, value=value.encode(), key=f"{label}:{i}".encode(), partition=j % args.partitions,
                                on_delivery=lambda err, msg, j=j: delivered(err, msg, j),
                            )
                            break
                        except BufferError:
                            producer.producer.poll(0.05)
                    producer.producer.poll(0)
                if args.offsets_group:
                    offsets = [TopicPartition(args.topic, 0, i + 1)]
                    step("send_offsets_to_transaction", lambda: producer.producer.send_offsets_to_transaction(offsets, producer.group_metadata, STEP_TIMEOUT_S), deadline)
                if aborting:
                    step("abort_transaction", lambda: producer.producer.abort_transaction(STEP_TIMEOUT_S), deadline)
                    line["outcome"] = "aborted"
                else:
                    committing = True
                    started = time.monotonic()
                    step("commit_transaction", lambda: producer.producer.commit_transaction(STEP_TIMEOUT_S), deadline)
                    line["commitMs"] = round((time.monotonic() - started) * 1000, 3)
                    line["outcome"] = "committed"
                    line["acks"] = acks
                    if failed or None in acks:
                        line["error"] = f"committed, but deliveries failed: {failed[:3]}"
            except Abortable as e:
                line["error"] = str(e)
                step("abort_transaction", lambda: producer.producer.abort_transaction(STEP_TIMEOUT_S), deadline)
                line["outcome"] = "aborted"
        except Fatal as e:
            # Never asked to commit: it cannot have committed. Asked: it may have.
            line["outcome"] = "unknown" if committing else "aborted"
            line["error"] = str(e)
            line["ms"][1] = now_ms()
            emit(line)
            summary[line["outcome"]] += 1
            i += 1
            emit({"reinit": str(e)})
            summary["reinits"] += 1
            producer.close()
            producer = TransactionalProducer(args)
            continue
        line["ms"][1] = now_ms()
        emit(line)
        summary[line["outcome"]] += 1
        i += 1
        if args.pause_ms > 0:
            time.sleep(args.pause_ms / 1000)
    producer.close()
    emit({"summary": summary})


def read(args):
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": "sluice-test-unused",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "isolation.level": args.isolation,
            "reconnect.backoff.max.ms": 1000,
            "topic.metadata.refresh.interval.ms": 2000,
        }
    )
    deadline = time.monotonic() + args.timeout
    try:
        waiting = set(assign_from_start(consumer, args.topic))
        positions = {}
        until = args.until.encode() if args.until is not None else None
        while waiting:
            if time.monotonic() > deadline:
                raise TimeoutError(f"partitions {sorted(waiting)} did not yield {args.until!r} within {args.timeout} s; read up to {positions}")
            for msg in consumer.consume(1000, 0.2):
                if msg.error():
                    print(f"consumer error: {msg.error()}", file=sys.stderr, flush=True)
                    continue
                value = msg.value()
                positions[msg.partition()] = msg.offset() + 1
                if not args.quiet:
                    emit({"p": msg.partition(), "o": msg.offset(), "v": text(value)})
                if value == until:
                    waiting.discard(msg.partition())
        emit({"positions": positions})
    finally:
        consumer.close()


def main():
    parser, command = subcommands(__doc__)

    p = command("produce", produce)
    p.add_argument("--partitions", type=int, required=True)
    p.add_argument("--transactional-id", required=True)
    p.add_argument("--label", help="what values name the producer by (default: the transactional id)")
    p.add_argument("--records", type=int, default=6, help="records per transaction")
    p.add_argument("--count", type=int, help="transactions (default: until stdin closes)")
    p.add_argument("--first", type=int, default=0, help="the first transaction's number")
    p.add_argument("--abort-every", type=int, default=0, help="abort every N-th transaction (0: none)")
    p.add_argument("--offsets-group", default="", help="send offsets for this group into each transaction")
    p.add_argument("--value-bytes", type=int, default=0)
    p.add_argument("--linger-ms", type=int, default=5)
    p.add_argument("--pause-ms", type=int, default=0, help="between transactions")
    p.add_argument("--transaction-timeout-ms", type=int, default=10000)
    p.add_argument("--step-deadline", type=float, default=60, help="seconds one transaction may take in retries")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")

    r = command("read", read)
    r.add_argument("--isolation", choices=("read_committed", "read_uncommitted"), default="read_committed")
    r.add_argument("--until", required=True, help="read each partition until a record with this value")
    r.add_argument("--timeout", type=float, default=60)
    r.add_argument("--quiet", action="store_true", help="print only the positions")

    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
