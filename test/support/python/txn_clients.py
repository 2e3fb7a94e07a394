"""Transactions with confluent-kafka (librdkafka), for test/transactions/clients.test.ts.

    txn_clients.py eos --bootstrap B --input IN --output OUT --partitions P --group G
                       --transactional-id T --every K [--hang-mid-txn N]
        The exactly-once consume-transform-produce loop: reads IN read_committed as a member of
        G (static membership, so a restarted process takes its place at once), writes each
        record to OUT transformed (the value prefixed with "out-", the same key and partition),
        and every K records commits a transaction holding those records and the group's
        offsets (send_offsets_to_transaction). It exits once every partition of IN is read to
        its end and committed. One JSON line per event on stdout:
            {"init": true}                 init_transactions done (any older producer fenced)
            {"mid": n, "records": r}       transaction n is half written and flushed: r records
                                           of it are in OUT's log, uncommitted
            {"committed": n, "records": r} transaction n committed with r records
            {"done": total}                everything read and committed; total records this run
        With --hang-mid-txn N it stops at transaction N's "mid" line (sleeps until killed), so
        that a test can kill it while a transaction is open with records in the log.

    txn_clients.py read --bootstrap B --topic T --isolation read_committed|read_uncommitted
        Every record of T below each partition's end as reading began (assign(), no group; for
        read_committed the end is the last stable offset), one JSON line each:
        {"p": partition, "o": offset, "k": key, "v": value}.

    txn_clients.py kafka-python-read --bootstrap B --topic T --isolation LEVEL --until VALUE
        The same with kafka-python, reading until a record's value is VALUE. A kafka-python without
        isolation_level (2.0 has none) prints {"unsupported": why, "version": its version}
        instead, whatever the level asked.
"""

import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from clients import assign_from_start, emit, subcommands, text


def eos(args):
    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "transactional.id": args.transactional_id,
            "transaction.timeout.ms": 30_000,
            "linger.ms": 5,
        }
    )
    # Fences any older producer of the transactional id, aborting what it left open.
    producer.init_transactions(30)
    emit({"init": True})
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            # Static membership: the place of a killed process is taken over at once, with no
            # wait for its session to time out.
            "group.instance.id": f"{args.group}-member",
            "session.timeout.ms": 10_000,
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([args.input])
    deadline = time.monotonic() + args.timeout
    txn = 0
    in_txn = 0
    total = 0
    try:
        while True:
            if time.monotonic() > deadline:
                sys.exit(f"eos: not done within {args.timeout} s ({total} records this run)")
            msg = consumer.poll(0.2)
            if msg is not None:
                if msg.error():
                    print(f"consumer error: {msg.error()}", file=sys.stderr, flush=True)
                    continue
                if in_txn == 0:
                    producer.begin_transaction()
                    txn += 1
                producer.produce(args.output, key=msg.key(), value=b"out-" + msg.value(), partition=msg.partition())
                in_txn += 1
                total += 1
                if in_txn == args.every // 2:
                    producer.flush(30)
                    emit({"mid": txn, "records": in_txn})
                    if txn == args.hang_mid_txn:
                        time.sleep(3600)
                if in_txn >= args.every:
                    commit(producer, consumer, txn, in_txn)
                    in_txn = 0
                continue
            # Nothing came: commit what is open, and stop once every partition is read to its end.
            if in_txn > 0:
                commit(producer, consumer, txn, in_txn)
                in_txn = 0
            if read_to_end(consumer, args.input, args.partitions):
                emit({"done": total})
                return
    finally:
        consumer.close()


def commit(producer, consumer, txn, records):
    positions = [tp for tp in consumer.position(consumer.assignment()) if tp.offset >= 0]
    producer.send_offsets_to_transaction(positions, consumer.consumer_group_metadata(), 30)
    producer.commit_transaction(30)
    emit({"committed": txn, "records": records})


def read_to_end(consumer, topic, partitions):
    assignment = consumer.assignment()
    if len(assignment) != partitions:
        return False
    for tp in consumer.position(assignment):
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
        if tp.offset < 0 and high > low:
            return False
        if tp.offset >= 0 and tp.offset < high:
            return False
    return True


def read(args):
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": "sluice-test-unused",
            "isolation.level": args.isolation,
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        partitions = assign_from_start(consumer, args.topic)
        at_end = set()
        deadline = time.monotonic() + args.timeout
        while len(at_end) < len(partitions):
            if time.monotonic() > deadline:
                sys.exit(f"read: partitions {sorted(set(partitions) - at_end)} not read to their end within {args.timeout} s")
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                    continue
                raise KafkaException(msg.error())
            emit({"p": msg.partition(), "o": msg.offset(), "k": text(msg.key()), "v": text(msg.value())})
    finally:
        consumer.close()


def kafka_python_read(args):
    import kafka
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaConfigurationError

    try:
        consumer = KafkaConsumer(bootstrap_servers=args.bootstrap, enable_auto_commit=False, isolation_level=args.isolation)
    except KafkaConfigurationError as e:
        emit({"unsupported": str(e), "version": kafka.__version__})
        return
    try:
        partitions = sorted(consumer.partitions_for_topic(args.topic))
        consumer.assign([TopicPartition(args.topic, p) for p in partitions])
        consumer.seek_to_beginning()
        deadline = time.monotonic() + args.timeout
        while True:
            if time.monotonic() > deadline:
                sys.exit(f"kafka-python-read: no {args.until} within {args.timeout} s")
            for records in consumer.poll(200).values():
                for r in records:
                    emit({"p": r.partition, "o": r.offset, "k": text(r.key), "v": text(r.value)})
                    if text(r.value) == args.until:
                        return
    finally:
        consumer.close()


def main():
    parser, command = subcommands(__doc__)
    e = command("eos", eos, topic=False)
    e.add_argument("--input", required=True)
    e.add_argument("--output", required=True)
    e.add_argument("--partitions", type=int, required=True)
    e.add_argument("--group", required=True)
    e.add_argument("--transactional-id", required=True)
    e.add_argument("--every", type=int, required=True)
    e.add_argument("--hang-mid-txn", type=int, default=0)
    e.add_argument("--timeout", type=float, default=60)
    r = command("read", read)
    r.add_argument("--isolation", choices=("read_committed", "read_uncommitted"), required=True)
    r.add_argument("--timeout", type=float, default=30)
    k = command("kafka-python-read", kafka_python_read)
    k.add_argument("--isolation", choices=("read_committed", "read_uncommitted"), required=True)
    k.add_argument("--until", required=True)
    k.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
