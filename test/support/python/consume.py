"""Prints every record of a topic, read from the beginning with assign() (no consumer group),
up to each partition's end as it stood at the start, one JSON line per record:

    {"p": partition, "o": offset, "k": key, "v": value}

With --follow (confluent-kafka only) it goes on reading what comes until its stdin closes.
"""

import argparse
import json
import sys

from clients import LIBRARIES, follow, read_all, stdin_closed, text


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", choices=LIBRARIES, required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--timeout", type=float, default=60, help="seconds to read everything in")
    parser.add_argument("--follow", action="store_true", help="read on until stdin closes")
    args = parser.parse_args()
    out = sys.stdout
    if args.follow:
        if args.library != "confluent":
            sys.exit("--follow needs --library confluent")
        records = follow(args.bootstrap, args.topic, stdin_closed())
    else:
        records = read_all(args.library, args.bootstrap, args.topic, args.timeout)
    for partition, offset, key, value in records:
        out.write(json.dumps({"p": partition, "o": offset, "k": text(key), "v": text(value)}, separators=(",", ":")) + "\n")
        if args.follow:
            out.flush()
    out.flush()


if __name__ == "__main__":
    main()
