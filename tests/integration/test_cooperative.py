"""Cooperative-sticky (KIP-429) rebalances driven by subscription changes,
with confluent-kafka (librdkafka), as a consumer application sees them.

check_subscription_changes: two consumers in one group with
partition.assignment.strategy=cooperative-sticky and rebalance callbacks.
Ten rounds: each round one consumer changes its subscription (topics added,
dropped, swapped; a topic created while subscribed by regex). After each
change the group converges within 30 s: every partition of a subscribed
topic is owned by exactly one consumer that subscribes to it, none by a
consumer that does not, and the group is Stable (DescribeGroups). A change
takes at most three rebalances, counted by the assignment callbacks (which
librdkafka calls once per rebalance on every member, with an empty list
when nothing is added): one when nothing moves between members, KIP-429's
second when a partition is revoked from one member to be given to the
other, and a third when the group comes to subscribe to a topic the
leader's metadata did not have yet (librdkafka's leader rejoins when the
metadata of a subscribed topic changes). Callbacks never revoke a partition that was
not assigned, and never leave an owned partition unreported.

No round has a follower drop a topic it owns partitions of while adding a
topic its metadata cache does not know yet: librdkafka 2.0 then waits for
metadata, treats the dropped partitions as lost, and rejoins only if it is
the group leader (rd_kafka_cgrp_metadata_update_check), so the follower
sits out until the next rebalance whichever broker it talks to. The new
topic is added first, the old one dropped in the next round.
"""
import time

import harness
from harness import Broker
import clients

from confluent_kafka import Consumer

GROUP = "coop"
PARTITIONS = 2
ROUND_TIMEOUT_S = 30


class Member:
    def __init__(self, bootstrap, name):
        self.name = name
        self.owned = set()
        self.subscription = []
        self.events = []
        self.c = Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": GROUP,
            "client.id": name,
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 300,
            "topic.metadata.refresh.interval.ms": 1000,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        })

    def on_assign(self, consumer, partitions):
        tps = {(p.topic, p.partition) for p in partitions}
        assert not (tps & self.owned), "%s: assigned %r it already owns" % (self.name, tps & self.owned)
        self.owned |= tps
        self.events.append(("assign", sorted(tps)))

    def on_revoke(self, consumer, partitions):
        tps = {(p.topic, p.partition) for p in partitions}
        assert tps <= self.owned, "%s: revoked %r it does not own" % (self.name, tps - self.owned)
        self.owned -= tps
        self.events.append(("revoke", sorted(tps)))

    def subscribe(self, topics):
        self.subscription = list(topics)
        self.c.subscribe(self.subscription, on_assign=self.on_assign, on_revoke=self.on_revoke,
                         on_lost=self.on_revoke)

    def poll(self):
        msg = self.c.poll(0.05)
        if msg is not None and msg.error():
            print("%s: %s" % (self.name, msg.error()))

    def subscribes(self, topic, existing):
        for s in self.subscription:
            if s.startswith("^"):
                import re
                if re.match(s, topic) and topic in existing:
                    return True
            elif s == topic:
                return True
        return False


def describe(bootstrap):
    from kafka import KafkaAdminClient
    return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)


def converged(members, existing, partitions=PARTITIONS):
    owners = {}
    for m in members:
        for tp in m.owned:
            if tp in owners or not m.subscribes(tp[0], existing):
                return False
            owners[tp] = m
    wanted = {(t, p) for t in existing for p in range(partitions) if any(m.subscribes(t, existing) for m in members)}
    return set(owners) == wanted


def generation(kadmin):
    """The group's state, through kafka-python's DescribeGroups."""
    return kadmin.describe_consumer_groups([GROUP])[0].state


def check_subscription_changes():
    with Broker() as b:
        existing = ["coop-a", "coop-b", "coop-c"]
        for t in existing:
            clients.create_topic(b.bootstrap, t, PARTITIONS)
        one, two = Member(b.bootstrap, "one"), Member(b.bootstrap, "two")
        members = [one, two]
        kadmin = describe(b.bootstrap)
        rounds = [
            (one, ["coop-a"]), (two, ["coop-a"]),             # initial joins, then both share coop-a
            (one, ["coop-a", "coop-b"]),                       # add a topic
            (two, ["coop-a", "coop-b", "coop-c"]),             # add two
            (one, ["coop-c"]),                                 # swap: drop a and b, take c
            (two, ["coop-b"]),                                 # narrow
            (one, ["^coop-.*"]),                               # regex
            ("create", "coop-d"),                              # a topic created while subscribed by regex
            (two, ["coop-b", "coop-d", "coop-a"]),              # add the new topic and another
            (two, ["coop-d", "coop-a"]),                       # drop one
            (one, ["coop-b"]),
        ]
        try:
            for i, (who, what) in enumerate(rounds):
                if who == "create":
                    clients.create_topic(b.bootstrap, what, PARTITIONS)
                    existing.append(what)
                else:
                    who.subscribe(what)
                t0 = time.time()
                assigns0 = [sum(1 for e in m.events if e[0] == "assign") for m in members]
                state = None
                deadline = t0 + ROUND_TIMEOUT_S
                while time.time() < deadline:
                    for m in members:
                        if m.subscription:
                            m.poll()
                    active = [m for m in members if m.subscription]
                    # Every member has seen this round's rebalance (a
                    # callback), and what they own is right.
                    seen = all(sum(1 for e in m.events if e[0] == "assign") > a0
                               for m, a0 in zip(members, assigns0) if m.subscription)
                    if seen and converged(active, existing):
                        state = generation(kadmin)
                        if state == "Stable":
                            break
                assert state == "Stable" and converged([m for m in members if m.subscription], existing), \
                    "round %d (%s %r) did not converge in %d s: one owns %r, two owns %r, state %r; events %r %r" % (
                        i, getattr(who, "name", who), what, ROUND_TIMEOUT_S, sorted(one.owned), sorted(two.owned),
                        state, one.events[-4:], two.events[-4:])
                rebalances = [sum(1 for e in m.events if e[0] == "assign") - a0 for m, a0 in zip(members, assigns0)]
                print("round %d (%s %r): converged in %.1f s after %r rebalance(s), one %r, two %r" % (
                    i, getattr(who, "name", who), what, time.time() - t0, rebalances, sorted(one.owned),
                    sorted(two.owned)))
                assert max(rebalances) <= 3, "round %d took %r rebalances" % (i, rebalances)
        finally:
            kadmin.close()
            for m in members:
                m.c.close()


def check_close_during_rebalance():
    """Three members; a subscription change starts a rebalance and another
    member closes (LeaveGroup) while the group is preparing it. The two
    left converge on every partition within 30 s, as with Kafka, where the
    leave completes the join instead of waiting out the rebalance timeout."""
    with Broker() as b:
        for t in ("coop-x", "coop-y"):
            clients.create_topic(b.bootstrap, t, 3)
        members = [Member(b.bootstrap, n) for n in ("one", "two", "three")]
        existing = ["coop-x", "coop-y"]
        kadmin = describe(b.bootstrap)
        try:
            for m in members:
                m.subscribe(["coop-x"])

            def settle(active, timeout_s):
                deadline = time.time() + timeout_s
                while time.time() < deadline:
                    for m in active:
                        m.poll()
                    if converged(active, existing, 3) and generation(kadmin) == "Stable" and \
                            all(m.owned for m in active):
                        return True
                return False

            assert settle(members, ROUND_TIMEOUT_S), ([sorted(m.owned) for m in members], generation(kadmin))
            members[0].subscribe(["coop-x", "coop-y"])
            # Let the change reach the coordinator, then leave mid-rebalance.
            deadline = time.time() + 10
            while generation(kadmin) != "PreparingRebalance" and time.time() < deadline:
                for m in members:
                    m.poll()
            print("state when three closes: %s" % generation(kadmin))
            t0 = time.time()
            members[2].c.close()
            members[2].subscription = []
            active = members[:2]
            assert settle(active, ROUND_TIMEOUT_S), \
                "did not converge in %d s after a close during the rebalance: %r" % (
                    ROUND_TIMEOUT_S, [sorted(m.owned) for m in active])
            owned = set().union(*(m.owned for m in active))
            assert owned == {(t, p) for t in ("coop-x",) for p in range(3)} | {("coop-y", p) for p in range(3)}, owned
            print("converged %.1f s after the close: %r" % (time.time() - t0, [sorted(m.owned) for m in active]))
        finally:
            kadmin.close()
            for m in members[:2]:
                m.c.close()


if __name__ == "__main__":
    harness.run_checks(globals())
