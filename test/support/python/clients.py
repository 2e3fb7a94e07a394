"""One interface over confluent-kafka and kafka-python, so each test script drives both alike,
and what the scripts here share besides (JSON lines out, stdin as the signal to stop, command
lines of subcommands).

Producers report every message once, through ``on_done(error, partition, offset)``; consumers
read topics from the beginning with ``assign()`` (never a consumer group).
"""

import argparse
import json
import sys
import threading
import time

LIBRARIES = ("confluent", "kafka-python")

# Long enough to ride out a broker restart, short enough that a broker gone for good fails the
# test instead of hanging it.
DELIVERY_TIMEOUT_MS = 120_000


def library_version(library):
    if library == "confluent":
        import confluent_kafka

        return f"confluent-kafka {confluent_kafka.version()[0]}, librdkafka {confluent_kafka.libversion()[0]}"
    import kafka

    return f"kafka-python {kafka.__version__}"


def idempotence_supported(library):
    """confluent-kafka always; kafka-python from 2.1, which added enable_idempotence."""
    if library == "confluent":
        return True
    import kafka

    major, minor = (int(part) for part in kafka.__version__.split(".")[:2])
    return (major, minor) >= (2, 1)


class ProducerFatal(Exception):
    """The client can send nothing more: librdkafka raised a fatal error (an idempotent
    producer that finds its partition's state inconsistent with what it was acknowledged)."""


class ConfluentProducer:
    def __init__(self, bootstrap, idempotent, on_error, settings):
        from confluent_kafka import Producer

        config = {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": idempotent,
            "linger.ms": 5,
            "message.timeout.ms": DELIVERY_TIMEOUT_MS,
            "reconnect.backoff.max.ms": 1000,
            "error_cb": on_error,
        }
        if not idempotent:
            # Retries may then duplicate, but never reorder.
            config["max.in.flight.requests.per.connection"] = 1
        self._producer = Producer({**config, **settings})

    def send(self, topic, partition, key, value, on_done):
        def report(err, msg):
            on_done(None if err is None else str(err), msg.partition(), msg.offset())

        while True:
            try:
                self._guarded(lambda: self._producer.produce(topic, value=value, key=key, partition=partition, on_delivery=report))
                return
            except BufferError:
                # The local queue is full (the broker is away): serve deliveries until it drains.
                self.poll(0.1)

    def poll(self, seconds):
        self._guarded(lambda: self._producer.poll(seconds))

    def flush(self, seconds):
        self._guarded(lambda: self._producer.flush(seconds))

    @staticmethod
    def _guarded(call):
        from confluent_kafka import KafkaError, KafkaException

        try:
            call()
        except KafkaException as e:
            error = e.args[0]
            # produce() says only _FATAL; poll() and flush() raise the fatal error itself.
            if error.code() != KafkaError._FATAL and not error.fatal():
                raise
            raise ProducerFatal(str(error)) from e

    def close(self):
        pass


class KafkaPythonProducer:
    def __init__(self, bootstrap, idempotent, on_error, settings):
        from kafka import KafkaProducer

        options = {
            "bootstrap_servers": bootstrap,
            "acks": "all",
            "linger_ms": 5,
            # kafka-python 2.0 has no delivery timeout and retries nothing by default.
            "retries": 1_000_000,
            "retry_backoff_ms": 200,
            "reconnect_backoff_max_ms": 1000,
            # Retries may duplicate, but with one request in flight they never reorder.
            "max_in_flight_requests_per_connection": 1,
        }
        if idempotent:
            options["enable_idempotence"] = True
        # Its keyword arguments take numbers as numbers.
        options.update({name: int(value) if value.lstrip("-").isdigit() else value for name, value in settings.items()})
        self._producer = KafkaProducer(**options)
        self._on_error = on_error

    def send(self, topic, partition, key, value, on_done):
        future = self._producer.send(topic, value=value, key=key, partition=partition)
        future.add_callback(lambda md: on_done(None, md.partition, md.offset))
        future.add_errback(lambda e: on_done(repr(e), partition, -1))

    def poll(self, seconds):
        # kafka-python sends and calls back from its own thread.
        time.sleep(seconds)

    def flush(self, seconds):
        from kafka.errors import KafkaTimeoutError

        try:
            self._producer.flush(seconds)
        except KafkaTimeoutError:
            pass  # the caller counts what is still undelivered

    def close(self):
        self._producer.close(timeout=10)


def open_producer(library, bootstrap, idempotent, on_error, settings=None):
    """``settings`` go to the library over the defaults here, in its own names."""
    cls = ConfluentProducer if library == "confluent" else KafkaPythonProducer
    return cls(bootstrap, idempotent, on_error, settings or {})


def read_all(library, bootstrap, topic, timeout_s):
    """Yields (partition, offset, key, value) for every record below each partition's high
    watermark as it stood when reading began, in offset order within each partition."""
    reader = _read_confluent if library == "confluent" else _read_kafka_python
    return reader(bootstrap, topic, time.monotonic() + timeout_s)


def stdin_closed():
    """An event set once stdin closes: how the test tells a script without a count to stop."""
    closed = threading.Event()

    def wait():
        for _ in sys.stdin:
            pass
        closed.set()

    threading.Thread(target=wait, daemon=True).start()
    return closed


def emit(line):
    """One JSON line on stdout, flushed: the tests read them as they come."""
    sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def text(data):
    """A key or value for a JSON line."""
    return None if data is None else data.decode()


def subcommands(doc):
    """A command line of subcommands: returns the parser and ``command(name, run, topic=True)``,
    which adds one, with its --bootstrap (and --topic), and returns its parser for the rest of
    its options. Then ``args = parser.parse_args()`` and ``args.run(args)``."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, run, topic=True):
        p = sub.add_parser(name)
        p.add_argument("--bootstrap", required=True)
        if topic:
            p.add_argument("--topic", required=True)
        p.set_defaults(run=run)
        return p

    return parser, command


def assign_from_start(consumer, topic):
    """Assigns a confluent-kafka consumer every partition of the topic from its start (no group);
    returns the partitions, sorted."""
    from confluent_kafka import OFFSET_BEGINNING, TopicPartition

    partitions = sorted(consumer.list_topics(topic, timeout=30).topics[topic].partitions)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    return partitions


def follow(bootstrap, topic, stop):
    """Yields (partition, offset, key, value) from the start of every partition of the topic, and
    what comes after, until the event ``stop`` is set (confluent-kafka only). A position the
    leader no longer has (its log was cut back under it) starts over at the beginning, so that
    records which took the place of others are seen too. Errors go to stderr: readers outlive
    the brokers' faults."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "sluice-test-unused",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "socket.timeout.ms": 10_000,
            "socket.connection.setup.timeout.ms": 5_000,
            "reconnect.backoff.max.ms": 1000,
            "topic.metadata.refresh.interval.ms": 5_000,
        }
    )
    try:
        assign_from_start(consumer, topic)
        while not stop.is_set():
            for msg in consumer.consume(1000, 0.2):
                if msg.error():
                    print(f"consumer error: {msg.error()}", file=sys.stderr, flush=True)
                    continue
                yield msg.partition(), msg.offset(), msg.key(), msg.value()
    finally:
        consumer.close()


def _check_deadline(deadline, positions, ends):
    if time.monotonic() > deadline:
        raise TimeoutError(f"reading stopped short: at {positions}, end offsets {ends}")


def _read_confluent(bootstrap, topic, deadline):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            # confluent-kafka insists on a group id; assign() and no commits keep the group unused.
            "group.id": "sluice-test-unused",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
        }
    )
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=30).topics[topic].partitions)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in partitions}
        positions = {p: 0 for p in partitions}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        while any(positions[p] < ends[p] for p in partitions):
            _check_deadline(deadline, positions, ends)
            for msg in consumer.consume(1000, 0.5):
                if msg.error():
                    raise RuntimeError(f"consumer error: {msg.error()}")
                p = msg.partition()
                if msg.offset() < ends[p]:
                    yield p, msg.offset(), msg.key(), msg.value()
                positions[p] = max(positions[p], msg.offset() + 1)
    finally:
        consumer.close()


def _read_kafka_python(bootstrap, topic, deadline):
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or [])
        tps = [TopicPartition(topic, p) for p in partitions]
        ends = {tp.partition: offset for tp, offset in consumer.end_offsets(tps).items()}
        positions = {p: 0 for p in partitions}
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        while any(positions[p] < ends[p] for p in partitions):
            _check_deadline(deadline, positions, ends)
            for tp, records in consumer.poll(timeout_ms=500).items():
                for r in records:
                    if r.offset < ends[tp.partition]:
                        yield tp.partition, r.offset, r.key, r.value
                    positions[tp.partition] = max(positions[tp.partition], r.offset + 1)
    finally:
        consumer.close()
