"""A kafka-python consumer group member for the real-Kafka lane.

    python3 kafkapython_group.py BOOTSTRAP GROUP TOPIC MAX

Reads TOPIC as a member of GROUP from its committed offsets (or the
earliest), until it has MAX records (MAX > 0) or every assigned partition
is at its end, commits exactly after the last record it printed per
partition, and leaves the group. Prints one key per line.
"""
import sys
import time

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata


def main():
    bootstrap, group, topic, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap.split(","), group_id=group,
                      enable_auto_commit=False, auto_offset_reset="earliest",
                      isolation_level="read_committed", consumer_timeout_ms=1000)
    last, n = {}, 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        batch = c.poll(timeout_ms=200, max_records=(limit - n) if limit else 500)
        for tp, recs in batch.items():
            for r in recs:
                print(r.key.decode())
                last[tp] = r.offset
                n += 1
        if limit and n >= limit:
            break
        parts = c.assignment()
        if not limit and parts and not batch:
            ends = c.end_offsets(list(parts))
            if all(c.position(tp) >= ends[tp] for tp in parts):
                break
    else:
        parts = sorted(c.assignment())
        try:
            ends = c.end_offsets(parts) if parts else {}
            where = ", ".join("%s/%d at %s, end %s, committed %s" % (tp.topic, tp.partition, c.position(tp), ends.get(tp), c.committed(tp)) for tp in parts)
        except Exception as e:  # diagnostics only
            where = "positions unknown: %s" % e
        sys.exit("timed out after %d records (assigned: %s)" % (n, where or "nothing"))
    if last:
        c.commit({tp: OffsetAndMetadata(o + 1, "", -1) for tp, o in last.items()})
    c.close()


if __name__ == "__main__":
    main()
