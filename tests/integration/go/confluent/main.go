// Drives a broker with Debian's confluent-kafka-go
// (golang-github-confluentinc-confluent-kafka-go-dev, 0.11.6, on Debian's
// librdkafka): produce the records of -records to partition 0, consume them
// in consumer group -group, commit, list topics. Every step prints JSON
// lines (jsonl) for go_clients_check.py; a failed step prints an "error"
// event and the program exits 1.
package main

import (
	"fmt"
	"sort"
	"time"

	"github.com/confluentinc/confluent-kafka-go/kafka"
	"stratagotest/jsonl"
)

func main() {
	o := jsonl.ParseFlags()
	_, libVersion := kafka.LibraryVersion()
	jsonl.Emit("start", map[string]interface{}{"client": "confluent-kafka-go", "librdkafka": libVersion})
	timeoutMs := int(o.Timeout / time.Millisecond)

	// 1. Produce, waiting for each delivery report.
	p, err := kafka.NewProducer(&kafka.ConfigMap{"bootstrap.servers": o.Bootstrap, "acks": "all",
		"client.id": "strata-go-confluent", "message.timeout.ms": timeoutMs})
	if err != nil {
		jsonl.Fail("produce", err)
	}
	reports := make(chan kafka.Event, 1)
	for _, r := range o.Records {
		msg := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &o.Topic, Partition: 0},
			Key: r.Key, Value: r.Value}
		if err := p.Produce(msg, reports); err != nil {
			jsonl.Fail("produce", err)
		}
		m := (<-reports).(*kafka.Message)
		if m.TopicPartition.Error != nil {
			jsonl.Fail("produce", m.TopicPartition.Error)
		}
		jsonl.Emit("produced", map[string]interface{}{"partition": m.TopicPartition.Partition,
			"offset": int64(m.TopicPartition.Offset)})
	}
	p.Close()

	// 2. Consume in the group, 3. commit what was consumed, synchronously.
	c, err := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": o.Bootstrap, "group.id": o.Group,
		"client.id": "strata-go-confluent", "auto.offset.reset": "earliest", "enable.auto.commit": false})
	if err != nil {
		jsonl.Fail("consume", err)
	}
	if err := c.Subscribe(o.Topic, nil); err != nil {
		jsonl.Fail("consume", err)
	}
	deadline := time.Now().Add(o.Timeout)
	got := 0
	for got < len(o.Records) {
		if time.Now().After(deadline) {
			jsonl.Fail("consume", fmt.Errorf("consumed %d of %d records within %s", got, len(o.Records), o.Timeout))
		}
		switch e := c.Poll(200).(type) {
		case *kafka.Message:
			jsonl.Emit("consumed", map[string]interface{}{"partition": e.TopicPartition.Partition,
				"offset": int64(e.TopicPartition.Offset), "key": jsonl.Hex(e.Key), "value": jsonl.Hex(e.Value)})
			got++
		case kafka.Error:
			jsonl.Emit("warning", map[string]interface{}{"step": "consume", "error": e.Error()})
		}
	}
	committed, err := c.Commit()
	if err != nil {
		jsonl.Fail("commit", err)
	}
	for _, tp := range committed {
		if tp.Error != nil {
			jsonl.Fail("commit", tp.Error)
		}
		jsonl.Emit("committed", map[string]interface{}{"partition": tp.Partition, "offset": int64(tp.Offset)})
	}

	// 4. List topics: Metadata for all topics.
	md, err := c.GetMetadata(nil, true, timeoutMs)
	if err != nil {
		jsonl.Fail("list_topics", err)
	}
	names := []string{}
	for name := range md.Topics {
		names = append(names, name)
	}
	sort.Strings(names)
	jsonl.Emit("topics", map[string]interface{}{"topics": names})
	c.Close()
	jsonl.Emit("done", nil)
}
