"""Test driver for confluent-kafka-python (librdkafka), run by kmigrate's
internal/kafkatest.

It speaks JSON so that Go can compare exactly what a Python application
would see: one JSON object per line on stdout, keys, values and header values
base64-encoded (null stays null, so binary and null-versus-empty survive).
Errors go to stderr with a non-zero exit status.

    python3 kafkatest_client.py --config conf.json metadata
    python3 kafkatest_client.py --config conf.json produce < messages.jsonl
    python3 kafkatest_client.py --config conf.json consume --group G --topics a,b --max N --commit
    python3 kafkatest_client.py --config conf.json consume-range --topic T [--partitions 0,1] [--start S] [--end E]
    python3 kafkatest_client.py --config conf.json produce-txn --topic T --partitions P --records N \
        --per-txn K --abort-every A --value-bytes B --transactional-id ID
    python3 kafkatest_client.py --config conf.json count --topic T [--isolation read_committed]

conf.json is a JSON object of librdkafka properties.

produce-txn generates its records: record i goes to partition i % P with
key "k-<i>" and a value that starts "txn=<t> end=<commit|abort> rec=<i> "
(t is its transaction) and is padded to B bytes. Every transaction is
flushed, so its records reach the log, before it ends; every A-th one is
aborted. It prints one JSON object: the counts of committed and aborted
records, in total and per partition. count reads every partition from its
start to its high watermark and prints, per partition, the records read,
how many distinct values, and how many come from aborted transactions (by
the value's "end=abort"), which read_committed must never show.
"""

import argparse
import base64
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition


def b64(b):
    return None if b is None else base64.b64encode(b).decode("ascii")


def unb64(s):
    return None if s is None else base64.b64decode(s)


def fail(msg):
    print("kafkatest_client: " + msg, file=sys.stderr)
    sys.exit(1)


def emit(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")


def message_json(msg):
    ts_type, ts = msg.timestamp()
    headers = msg.headers() or []
    return {
        "topic": msg.topic(),
        "partition": msg.partition(),
        "offset": msg.offset(),
        "key": b64(msg.key()),
        "value": b64(msg.value()),
        "headers": [[k, b64(v)] for k, v in headers],
        "timestamp": ts,
        "timestamp_type": ts_type,
    }


def cmd_metadata(conf, args):
    p = Producer(conf)
    md = p.list_topics(timeout=args.timeout)
    emit({
        "cluster_id": md.cluster_id or "",
        "brokers": [{"id": b.id, "host": b.host, "port": b.port} for b in md.brokers.values()],
        "topics": [
            {
                "topic": t.topic,
                "error": str(t.error) if t.error is not None else "",
                "partitions": [
                    {"id": pm.id, "leader": pm.leader, "replicas": list(pm.replicas)}
                    for pm in t.partitions.values()
                ],
            }
            for t in md.topics.values()
        ],
    })


def cmd_produce(conf, args):
    # Idempotence keeps the messages of a partition in order across retries.
    p = Producer(dict(conf, **{"enable.idempotence": True, "linger.ms": 0}))
    msgs = [json.loads(line) for line in sys.stdin if line.strip()]
    results = [None] * len(msgs)

    def on_delivery(i):
        def cb(err, msg):
            results[i] = (err, msg)
        return cb

    for i, m in enumerate(msgs):
        kw = {
            "topic": m["topic"],
            "partition": m.get("partition", 0),
            "key": unb64(m.get("key")),
            "value": unb64(m.get("value")),
            "headers": [(h[0], unb64(h[1])) for h in m.get("headers") or []],
            "on_delivery": on_delivery(i),
        }
        if m.get("timestamp"):
            kw["timestamp"] = m["timestamp"]
        while True:
            try:
                p.produce(**kw)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(args.timeout)
    if left:
        fail("%d messages not delivered within %ss" % (left, args.timeout))
    for i, (err, msg) in enumerate(results):
        if err is not None:
            fail("message %d: %s" % (i, err))
        out = message_json(msg)
        # Delivery reports carry no headers; report the ones sent.
        out["headers"] = msgs[i].get("headers") or []
        emit(out)


def cmd_consume(conf, args):
    c = Consumer(dict(conf, **{
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    }))
    assigned, at_eof = set(), set()

    def on_assign(consumer, parts):
        assigned.update((tp.topic, tp.partition) for tp in parts)

    def on_revoke(consumer, parts):
        for tp in parts:
            assigned.discard((tp.topic, tp.partition))
            at_eof.discard((tp.topic, tp.partition))

    c.subscribe(args.topics.split(","), on_assign=on_assign, on_revoke=on_revoke)
    last = {}
    n = 0
    deadline = time.monotonic() + args.timeout
    while not (args.max and n >= args.max) and not (assigned and assigned <= at_eof):
        if time.monotonic() > deadline:
            fail("consume: timed out after %d messages; assigned %s, at end %s"
                 % (n, sorted(assigned), sorted(at_eof)))
        msg = c.poll(0.1)
        if msg is None:
            continue
        tp = (msg.topic(), msg.partition())
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                at_eof.add(tp)
                continue
            fail("consume: %s" % msg.error())
        at_eof.discard(tp)
        last[tp] = msg.offset()
        n += 1
        emit(message_json(msg))
    if args.commit and last:
        # Commit exactly after the last message returned, synchronously,
        # so that the group's offsets are known when we exit.
        offsets = [TopicPartition(t, p, o + 1) for (t, p), o in sorted(last.items())]
        for tp in c.commit(offsets=offsets, asynchronous=False):
            if tp.error is not None:
                fail("commit %s/%d: %s" % (tp.topic, tp.partition, tp.error))
    c.close()


def cmd_consume_range(conf, args):
    # Assigned partitions need no group, but librdkafka wants a group.id.
    c = Consumer(dict(conf, **{
        "group.id": "kafkatest-consume-range",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    }))
    md = c.list_topics(args.topic, timeout=args.timeout)
    t = md.topics.get(args.topic)
    if t is None or t.error is not None:
        fail("topic %s: %s" % (args.topic, t.error if t else "not found"))
    parts = sorted(t.partitions) if not args.partitions else [int(p) for p in args.partitions.split(",")]
    ends, assign = {}, []
    for p in parts:
        lo, hi = c.get_watermark_offsets(TopicPartition(args.topic, p), timeout=args.timeout)
        start = lo if args.start < 0 else args.start
        end = hi if args.end < 0 else args.end
        if start < end:
            ends[p] = end
            assign.append(TopicPartition(args.topic, p, start))
    c.assign(assign)
    deadline = time.monotonic() + args.timeout
    while ends:
        if time.monotonic() > deadline:
            fail("consume-range: timed out; partitions not at their end offsets: %s" % ends)
        msg = c.poll(0.1)
        if msg is None:
            continue
        p = msg.partition()
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                if p in ends and msg.offset() >= ends[p]:
                    del ends[p]
                continue
            fail("consume-range: %s" % msg.error())
        if p not in ends or msg.offset() >= ends[p]:
            continue
        emit(message_json(msg))
        if msg.offset() >= ends[p] - 1:
            del ends[p]
    c.close()


def txn_value(t, end, i, size):
    head = b"txn=%06d end=%s rec=%07d " % (t, end, i)
    return head + b"v" * max(size - len(head), 0)


def cmd_produce_txn(conf, args):
    p = Producer(dict(conf, **{
        "transactional.id": args.transactional_id,
        "enable.idempotence": True,
        "linger.ms": 5,
    }))
    p.init_transactions(args.timeout)
    parts = {q: {"committed": 0, "aborted": 0} for q in range(args.partitions)}
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append("%s/%d: %s" % (msg.topic(), msg.partition(), err))

    txns = (args.records + args.per_txn - 1) // args.per_txn
    for t in range(txns):
        abort = args.abort_every > 0 and (t + 1) % args.abort_every == 0
        end = b"abort" if abort else b"commit"
        p.begin_transaction()
        first = t * args.per_txn
        for i in range(first, min(first + args.per_txn, args.records)):
            q = i % args.partitions
            kw = {"topic": args.topic, "partition": q, "key": b"k-%d" % i,
                  "value": txn_value(t, end, i, args.value_bytes), "on_delivery": on_delivery}
            while True:
                try:
                    p.produce(**kw)
                    break
                except BufferError:
                    p.poll(0.05)
            parts[q]["aborted" if abort else "committed"] += 1
        # The records reach the log before the transaction ends: an abort
        # leaves them there, hidden only by the abort marker.
        left = p.flush(args.timeout)
        if left:
            fail("produce-txn: transaction %d: %d messages not delivered within %ss" % (t, left, args.timeout))
        if errors:
            fail("produce-txn: transaction %d: %s" % (t, "; ".join(errors[:5])))
        if abort:
            p.abort_transaction(args.timeout)
        else:
            p.commit_transaction(args.timeout)
    emit({
        "transactions": txns,
        "committed": sum(c["committed"] for c in parts.values()),
        "aborted": sum(c["aborted"] for c in parts.values()),
        "partitions": {str(q): c for q, c in parts.items()},
    })


def cmd_count(conf, args):
    c = Consumer(dict(conf, **{
        "group.id": "kafkatest-count",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "isolation.level": args.isolation,
    }))
    md = c.list_topics(args.topic, timeout=args.timeout)
    t = md.topics.get(args.topic)
    if t is None or t.error is not None:
        fail("topic %s: %s" % (args.topic, t.error if t else "not found"))
    counts, ends, values, assign = {}, {}, {}, []
    for q in sorted(t.partitions):
        counts[q] = {"records": 0, "distinct": 0, "from_aborted": 0}
        values[q] = set()
        lo, hi = c.get_watermark_offsets(TopicPartition(args.topic, q), timeout=args.timeout)
        if lo < hi:
            ends[q] = hi
            assign.append(TopicPartition(args.topic, q, lo))
    c.assign(assign)
    deadline = time.monotonic() + args.timeout
    while ends:
        if time.monotonic() > deadline:
            fail("count: timed out; partitions not at their end offsets: %s; counts %s" % (ends, counts))
        msg = c.poll(0.1)
        if msg is None:
            continue
        q = msg.partition()
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                if q in ends and msg.offset() >= ends[q]:
                    del ends[q]
                continue
            fail("count: %s" % msg.error())
        if q not in ends or msg.offset() >= ends[q]:
            continue
        v = msg.value() or b""
        counts[q]["records"] += 1
        values[q].add(v)
        if v.startswith(b"txn=") and b" end=abort " in v[:40]:
            counts[q]["from_aborted"] += 1
        if msg.offset() >= ends[q] - 1:
            del ends[q]
    c.close()
    for q in counts:
        counts[q]["distinct"] = len(values[q])
    emit({"partitions": {str(q): n for q, n in counts.items()}})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="JSON file of librdkafka properties")
    ap.add_argument("--timeout", type=float, default=25.0, help="seconds")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("metadata")
    sub.add_parser("produce")
    c = sub.add_parser("consume")
    c.add_argument("--group", required=True)
    c.add_argument("--topics", required=True, help="comma-separated")
    c.add_argument("--max", type=int, default=0, help="stop after this many messages (0: at the end)")
    c.add_argument("--commit", action="store_true", help="commit after the last message returned")
    r = sub.add_parser("consume-range")
    r.add_argument("--topic", required=True)
    r.add_argument("--partitions", default="", help="comma-separated (default: all)")
    r.add_argument("--start", type=int, default=-1, help="first offset (default: log start)")
    r.add_argument("--end", type=int, default=-1, help="offset to stop before (default: high watermark)")
    x = sub.add_parser("produce-txn")
    x.add_argument("--topic", required=True)
    x.add_argument("--partitions", type=int, required=True, help="record i goes to partition i % this")
    x.add_argument("--records", type=int, required=True)
    x.add_argument("--per-txn", type=int, required=True, help="records per transaction")
    x.add_argument("--abort-every", type=int, default=0, help="abort every N-th transaction (0: none)")
    x.add_argument("--value-bytes", type=int, default=100)
    x.add_argument("--transactional-id", required=True)
    n = sub.add_parser("count")
    n.add_argument("--topic", required=True)
    n.add_argument("--isolation", default="read_committed", choices=["read_committed", "read_uncommitted"])
    args = ap.parse_args()
    with open(args.config) as f:
        conf = json.load(f)
    {
        "metadata": cmd_metadata,
        "produce": cmd_produce,
        "consume": cmd_consume,
        "consume-range": cmd_consume_range,
        "produce-txn": cmd_produce_txn,
        "count": cmd_count,
    }[args.cmd](conf, args)


if __name__ == "__main__":
    main()
