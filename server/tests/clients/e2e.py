"""End to end with two independent Kafka client implementations: kafka-python (pure Python)
and confluent-kafka (librdkafka). Driven by server/tests/kafka_clients.rs:

    e2e.py produce HOST:PORT STATE.json   create topics, produce, write what was acknowledged
    e2e.py consume HOST:PORT STATE.json   (after a server restart) read it all back and check

Every record carries a unique value; the check compares key, value, headers, timestamp and
offset of every acknowledged record, per partition, and lists offsets by timestamp.
"""

import json
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as CTopicPartition
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

PARTITIONS = 3
COUNT = 300


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def produce(bootstrap, state_path):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics(
        [
            NewTopic("e2e-python", num_partitions=PARTITIONS, replication_factor=1),
            NewTopic("e2e-rdkafka", num_partitions=PARTITIONS, replication_factor=1),
        ]
    )
    if not {"e2e-python", "e2e-rdkafka"} <= set(admin.list_topics()):
        fail("created topics are listed")
    admin.close()
    base_ms = int(time.time() * 1000) - 60_000
    acked = []

    # kafka-python: idempotent (its default) and not, keyed and unkeyed.
    for idempotent in (True, False):
        producer = KafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=idempotent, linger_ms=5
        )
        futures = []
        for i in range(COUNT):
            n = len(acked) + len(futures)
            key = None if i % 3 == 0 else ("py-%d" % n).encode()
            value = ("python-value-%d-%s" % (n, idempotent)).encode()
            headers = [("n", str(n).encode()), ("empty", b"")]
            future = producer.send(
                "e2e-python", key=key, value=value, headers=headers, timestamp_ms=base_ms + n
            )
            futures.append((future, key, value, headers, base_ms + n))
        producer.flush()
        for future, key, value, headers, ts in futures:
            meta = future.get(timeout=30)
            acked.append(
                {
                    "topic": "e2e-python",
                    "partition": meta.partition,
                    "offset": meta.offset,
                    "key": key.decode() if key is not None else None,
                    "value": value.decode(),
                    "headers": [[k, v.decode()] for k, v in headers],
                    "timestamp": ts,
                }
            )
        producer.close()

    # librdkafka: idempotent and not.
    for idempotent in (True, False):
        producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "acks": "all",
                "enable.idempotence": idempotent,
                "linger.ms": 5,
            }
        )
        results = []
        sent = {}

        def report(err, msg, results=results):
            results.append((err, msg))

        for i in range(COUNT):
            n = len(acked) + i
            key = None if i % 4 == 0 else ("rd-%d" % n).encode()
            value = ("rdkafka-value-%d-%s" % (n, idempotent)).encode()
            sent[value] = ([["n", str(n)]], base_ms + n)
            producer.produce(
                "e2e-rdkafka",
                key=key,
                value=value,
                headers=[("n", str(n).encode())],
                timestamp=base_ms + n,
                on_delivery=report,
            )
            producer.poll(0)
        if producer.flush(30) != 0:
            fail("librdkafka delivered everything")
        for err, msg in results:
            if err is not None:
                fail("librdkafka delivery failed: %s" % err)
            acked.append(
                {
                    "topic": "e2e-rdkafka",
                    "partition": msg.partition(),
                    "offset": msg.offset(),
                    "key": msg.key().decode() if msg.key() is not None else None,
                    "value": msg.value().decode(),
                    "headers": sent[msg.value()][0],
                    "timestamp": sent[msg.value()][1],
                }
            )
    with open(state_path, "w") as f:
        json.dump({"base_ms": base_ms, "acked": acked}, f)
    print("produced %d records" % len(acked))


def expected_by_partition(acked):
    out = {}
    for r in acked:
        out.setdefault((r["topic"], r["partition"]), {})[r["offset"]] = r
    return out


def check(where, got, want):
    for field in ("key", "value", "headers", "timestamp"):
        if got[field] != want[field]:
            fail("%s: %s is %r, acknowledged %r" % (where, field, got[field], want[field]))


def consume(bootstrap, state_path):
    with open(state_path) as f:
        state = json.load(f)
    expected = expected_by_partition(state["acked"])
    if len(state["acked"]) != 4 * COUNT:
        fail("every record was acknowledged")

    # kafka-python reads both topics from offset 0 of each partition.
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, consumer_timeout_ms=5000)
    tps = [TopicPartition(t, p) for t in ("e2e-python", "e2e-rdkafka") for p in range(PARTITIONS)]
    consumer.assign(tps)
    consumer.seek_to_beginning()
    seen = {}
    for m in consumer:
        got = {
            "key": m.key.decode() if m.key is not None else None,
            "value": m.value.decode(),
            "headers": [[k, v.decode()] for k, v in m.headers],
            "timestamp": m.timestamp,
        }
        seen.setdefault((m.topic, m.partition), {})[m.offset] = got
    for tp, records in expected.items():
        for offset, want in records.items():
            got = seen.get(tp, {}).get(offset)
            if got is None:
                fail("kafka-python: %s offset %d is missing" % (tp, offset))
            check("kafka-python %s@%d" % (tp, offset), got, want)
    # By timestamp: the first record at or after each acknowledged timestamp.
    for r in state["acked"][:: COUNT // 10]:
        tp = TopicPartition(r["topic"], r["partition"])
        found = consumer.offsets_for_times({tp: r["timestamp"]})[tp]
        if found is None or found.offset > r["offset"] or found.timestamp > r["timestamp"]:
            fail("offsets_for_times(%s, %d) gave %r" % (tp, r["timestamp"], found))
    consumer.close()

    # librdkafka reads every partition from a given offset.
    for (topic, partition), records in expected.items():
        start = sorted(records)[len(records) // 2]
        c = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": "e2e", "enable.auto.commit": False}
        )
        c.assign([CTopicPartition(topic, partition, start)])
        want_offsets = [o for o in sorted(records) if o >= start]
        got = {}
        deadline = time.time() + 30
        while len(got) < len(want_offsets) and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                fail("librdkafka consume error: %s" % m.error())
            got[m.offset()] = {
                "key": m.key().decode() if m.key() is not None else None,
                "value": m.value().decode(),
                "headers": [[k, v.decode()] for k, v in (m.headers() or [])],
                "timestamp": m.timestamp()[1],
            }
        c.close()
        for offset in want_offsets:
            if offset not in got:
                fail("librdkafka: %s/%d offset %d is missing" % (topic, partition, offset))
            check("librdkafka %s/%d@%d" % (topic, partition, offset), got[offset], records[offset])
    print("consumed and checked %d records with both clients" % len(state["acked"]))


if __name__ == "__main__":
    phase, bootstrap, state_path = sys.argv[1:4]
    {"produce": produce, "consume": consume}[phase](bootstrap, state_path)
