"""Produce N keyed records with confluent-kafka (librdkafka), idempotent and
acks=all, and print one JSON line: elapsed seconds, records delivered,
delivery errors and the p50/p99 per-record produce latency librdkafka
measured (Message.latency(): from produce() to the delivery report).

usage: latency.py BOOTSTRAP TOPIC RECORDS SIZE LINGER_MS RATE

RATE paces the producer to that many records per second (0: as fast as it
can, where the latencies are mostly time queued in the client).
"""
import json
import random
import string
import sys
import time

from confluent_kafka import Producer


def main():
    bootstrap, topic = sys.argv[1], sys.argv[2]
    n, size, linger, rate = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
    p = Producer({
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": linger,
        "queue.buffering.max.messages": 200000,
    })
    lat = []
    errors = []

    def delivered(err, msg):
        if err is not None:
            errors.append(str(err))
            return
        lat.append(msg.latency())

    # Warm up: metadata, producer id, connections.
    p.produce(topic, b"warm", b"warm", on_delivery=lambda err, msg: None)
    p.flush(60)
    # Random letters and digits (as gatewaybench's kcat file): little to
    # gain for compression anywhere on the path.
    alphabet = string.ascii_letters + string.digits
    values = [''.join(random.choices(alphabet, k=size)).encode() for _ in range(1000)]
    start = time.monotonic()
    for i in range(n):
        while True:
            try:
                p.produce(topic, values[i % 1000], b"k%d" % i, on_delivery=delivered)
                break
            except BufferError:
                p.poll(0.05)
        if i % 100 == 0:
            p.poll(0)
            if rate > 0:
                ahead = start + i / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
    left = p.flush(600)
    elapsed = time.monotonic() - start
    lat.sort()
    out = {
        "elapsed": elapsed,
        "delivered": len(lat),
        "errors": len(errors) + left,
        "first_error": errors[0] if errors else "",
        "p50": lat[len(lat) // 2] if lat else 0,
        "p99": lat[len(lat) * 99 // 100] if lat else 0,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
