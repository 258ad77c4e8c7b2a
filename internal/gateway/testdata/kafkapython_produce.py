"""Produce records FROM..TO-1 with kafka-python's idempotent producer.

Record i goes to partition i % 3 with key "k<i % 7>" and value "<i>",
like the Go tests' rec(i). Exits non-zero on any delivery error.

usage: kafkapython_produce.py BOOTSTRAP TOPIC FROM TO
"""
import sys

from kafka import KafkaProducer


def main():
    bootstrap, topic, start, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    p = KafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                      retries=2147483647, max_in_flight_requests_per_connection=5)
    futures = [p.send(topic, key=b"k%d" % (i % 7), value=b"%d" % i, partition=i % 3)
               for i in range(start, end)]
    p.flush(timeout=60)
    for i, f in zip(range(start, end), futures):
        f.get(timeout=60)  # raises the delivery error, if any
    p.close(timeout=10)
    print("delivered %d" % (end - start))


if __name__ == "__main__":
    main()
