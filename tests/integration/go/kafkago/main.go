// Drives a broker with Debian's segmentio kafka-go
// (golang-github-segmentio-kafka-go-dev, 0.2.1): produce the records of
// -records with a Writer, consume them in consumer group -group with a
// Reader, commit each one (synchronous commits), list topics (Metadata
// through a Conn, for -topic and -other: kafka-go 0.2 cannot ask for all
// topics, its Metadata v1 request sends an empty list, which means none). Every step prints JSON lines (jsonl) for
// go_clients_check.py; a failed step prints an "error" event and the
// program exits 1.
package main

import (
	"context"
	"flag"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"
	"stratagotest/jsonl"
)

func main() {
	other := flag.String("other", "", "a second topic to look up with -topic")
	o := jsonl.ParseFlags()
	jsonl.Emit("start", map[string]interface{}{"client": "kafka-go"})

	// 1. Produce. The Writer returns no offsets; the consumed ones are
	// checked instead.
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	w := kafka.NewWriter(kafka.WriterConfig{Brokers: []string{o.Bootstrap}, Topic: o.Topic,
		Balancer: &kafka.LeastBytes{}, BatchSize: 1, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout})
	for _, r := range o.Records {
		if err := w.WriteMessages(ctx, kafka.Message{Key: r.Key, Value: r.Value}); err != nil {
			jsonl.Fail("produce", err)
		}
		jsonl.Emit("produced", nil)
	}
	if err := w.Close(); err != nil {
		jsonl.Fail("produce", err)
	}
	cancel()

	// 2. Consume in the group; 3. commit each record (CommitInterval 0:
	// synchronous commits).
	ctx, cancel = context.WithTimeout(context.Background(), o.Timeout)
	rd := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{o.Bootstrap}, GroupID: o.Group, Topic: o.Topic,
		MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 200 * time.Millisecond, CommitInterval: 0})
	next := map[int]int64{}
	for i := 0; i < len(o.Records); i++ {
		m, err := rd.FetchMessage(ctx)
		if err != nil {
			jsonl.Fail("consume", err)
		}
		jsonl.Emit("consumed", map[string]interface{}{"partition": m.Partition, "offset": m.Offset,
			"key": jsonl.Hex(m.Key), "value": jsonl.Hex(m.Value)})
		if err := rd.CommitMessages(ctx, m); err != nil {
			jsonl.Fail("commit", err)
		}
		next[m.Partition] = m.Offset + 1
	}
	if err := rd.Close(); err != nil {
		jsonl.Fail("commit", err)
	}
	cancel()
	for p, o := range next {
		jsonl.Emit("committed", map[string]interface{}{"partition": p, "offset": o})
	}

	// 4. List topics: Metadata for the two topics.
	conn, err := kafka.Dial("tcp", o.Bootstrap)
	if err != nil {
		jsonl.Fail("list_topics", err)
	}
	conn.SetDeadline(time.Now().Add(o.Timeout))
	partitions, err := conn.ReadPartitions(o.Topic, *other)
	if err != nil {
		jsonl.Fail("list_topics", err)
	}
	conn.Close()
	seen := map[string]bool{}
	names := []string{}
	for _, p := range partitions {
		if !seen[p.Topic] {
			seen[p.Topic] = true
			names = append(names, p.Topic)
		}
	}
	sort.Strings(names)
	jsonl.Emit("topics", map[string]interface{}{"topics": names})
	jsonl.Emit("done", nil)
}
