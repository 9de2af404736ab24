"""Producer process for test_crash.py (not a test itself).

    crash_producer.py BOOTSTRAP TOPIC RESULT_JSON STOP_FILE MARK_FILE

Produces records "0", "1", ... with an idempotent acks=all confluent-kafka
producer at a bounded rate until STOP_FILE exists, then flushes and writes
RESULT_JSON: sent count, the index being sent when MARK_FILE first appeared,
{i: [partition, offset]} of acknowledged records, {i: error} of failed ones,
error callbacks seen (fatal ones flagged) and how many were left unflushed.
Record i goes to key "k<i % 2>", so to a fixed partition of a 2-partition topic.
"""
import json
import os
import sys
import time

from confluent_kafka import Producer

RATE_PER_S = 4000
CHUNK = 20
FLUSH_TIMEOUT_S = 150


def main():
    bootstrap, topic, result_path, stop_path, mark_path = sys.argv[1:6]
    delivered, failed, errors = {}, {}, []

    def on_error(err):
        errors.append({"fatal": err.fatal(), "error": str(err)})

    p = Producer({
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "message.timeout.ms": 120000,
        "linger.ms": 5,
        "reconnect.backoff.ms": 50,
        "reconnect.backoff.max.ms": 500,
        "retry.backoff.ms": 50,
        "error_cb": on_error,
    })

    def on_delivery(i):
        def cb(err, msg):
            if err is None:
                delivered[i] = [msg.partition(), msg.offset()]
            else:
                failed[i] = str(err)
        return cb

    i = 0
    mark = None
    t0 = time.monotonic()
    while not os.path.exists(stop_path):
        if mark is None and os.path.exists(mark_path):
            mark = i
        for _ in range(CHUNK):
            while True:
                try:
                    p.produce(topic, key=b"k%d" % (i % 2), value=b"%d" % i, on_delivery=on_delivery(i))
                    break
                except BufferError:
                    p.poll(0.05)
            i += 1
        p.poll(0)
        # Bounded rate: sleep until the schedule for i records.
        ahead = i / RATE_PER_S - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
    left = p.flush(FLUSH_TIMEOUT_S)
    with open(result_path, "w") as f:
        json.dump({"sent": i, "mark": mark, "delivered": delivered, "failed": failed,
                   "errors": errors, "left": left}, f)


if __name__ == "__main__":
    main()
