"""Produces numbered messages and reports every delivery as a JSON line on stdout.

Message n has the value "m<n>" (zero-padded, then padded with dots to --value-bytes), the key
"k<n>", and goes to partition n % partitions; n counts from --first. With --count it sends that
many; without, it sends until its stdin closes; with --until-failures it also stops once that
many deliveries have failed. Either way it then waits for every delivery report and ends with a
summary line. The exit status is 0 only when every message sent was acknowledged, or, with
--until-failures, when that many failed.

    {"ack": [partition, offset, n]}     delivered
    {"failed": n, "error": "..."}       given up on
    {"summary": {...}}                  last

With --times, ack and failed lines also carry "t": [sent, reported], wall-clock milliseconds of
the send and of the delivery report, so that outages can be timed against other clocks.
"""

import argparse
import sys
import threading
import time

from clients import DELIVERY_TIMEOUT_MS, LIBRARIES, ProducerFatal, emit, idempotence_supported, library_version, open_producer, stdin_closed


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", choices=LIBRARIES, required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--count", type=int, help="messages to send (default: until stdin closes)")
    parser.add_argument("--rate", type=float, default=0, help="messages per second (default: as fast as it goes)")
    parser.add_argument("--idempotence", choices=("on", "off", "if-supported"), default="on")
    parser.add_argument("--first", type=int, default=0, help="the first message's number")
    parser.add_argument("--value-bytes", type=int, default=0, help="pad values with dots to this size")
    parser.add_argument("--until-failures", type=int, help="stop sending after this many failed deliveries")
    parser.add_argument("--times", action="store_true", help="add send and report times to ack and failed lines")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a producer setting in the library's own names (repeatable)"
    )
    return parser.parse_args()


class Report:
    """Delivery reports may come from a client's own thread: one writer at a time."""

    def __init__(self, times):
        self.times = times
        self.lock = threading.Lock()
        self.acked = 0
        self.failed = 0
        self.fatal = None

    def emit(self, line):
        with self.lock:
            emit(line)

    def delivered(self, n, error, partition, offset, sent_ms):
        line = {"ack": [partition, offset, n]} if error is None else {"failed": n, "error": error}
        if self.times:
            line["t"] = [sent_ms, round(time.time() * 1000)]
        self.emit(line)
        with self.lock:
            if error is None:
                self.acked += 1
            else:
                self.failed += 1

    def client_fatal(self, error):
        """The client raised a fatal error: every distinct one is kept, the first often says least."""
        with self.lock:
            if self.fatal is None:
                self.fatal = str(error)
            elif str(error) not in self.fatal:
                self.fatal += f"; {error}"

    def client_error(self, err):
        # Connection errors are expected while a broker restarts; a fatal one ends the run.
        if hasattr(err, "fatal") and err.fatal():
            self.client_fatal(err)
        print(f"client error: {err}", file=sys.stderr, flush=True)


def main():
    args = parse_args()
    idempotent = args.idempotence == "on" or (args.idempotence == "if-supported" and idempotence_supported(args.library))
    if idempotent and not idempotence_supported(args.library):
        sys.exit(f"{library_version(args.library)} has no idempotent producer")
    report = Report(args.times)
    settings = dict(setting.split("=", 1) for setting in args.set)
    producer = open_producer(args.library, args.bootstrap, idempotent, report.client_error, settings)
    stop = threading.Event() if args.count is not None else stdin_closed()
    enough_failed = lambda: args.until_failures is not None and report.failed >= args.until_failures
    start = time.monotonic()
    sent = 0
    while not stop.is_set() and report.fatal is None and (args.count is None or sent < args.count) and not enough_failed():
        n = args.first + sent
        sent_ms = round(time.time() * 1000)
        try:
            producer.send(
                args.topic,
                n % args.partitions,
                f"k{n}".encode(),
                f"m{n:08d}".ljust(args.value_bytes, ".").encode(),
                lambda error, partition, offset, n=n, sent_ms=sent_ms: report.delivered(n, error, partition, offset, sent_ms),
            )
            sent += 1
            producer.poll(0)
        except ProducerFatal as e:
            report.client_fatal(e)
            break
        if args.rate > 0:
            # Not poll(ahead): a poll returns as soon as it has served a delivery report.
            time.sleep(max(sent / args.rate - (time.monotonic() - start), 0))

    deadline = time.monotonic() + DELIVERY_TIMEOUT_MS / 1000 + 30
    while report.acked + report.failed < sent and time.monotonic() < deadline:
        if report.fatal is not None:
            # A fatal error fails what the client still holds: those reports come soon, or never.
            deadline = min(deadline, time.monotonic() + 10)
        try:
            producer.flush(1)
        except ProducerFatal as e:
            report.client_fatal(e)
    producer.close()
    report.emit(
        {
            "summary": {
                "library": library_version(args.library),
                "idempotent": idempotent,
                "sent": sent,
                "acked": report.acked,
                "failed": report.failed,
                "fatal": report.fatal,
            }
        }
    )
    sys.exit(0 if report.acked == sent or enough_failed() else 1)


if __name__ == "__main__":
    main()
