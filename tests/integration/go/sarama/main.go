// Drives a broker with Debian's sarama (golang-github-shopify-sarama-dev,
// 1.22): produce the records of -records to partition 0, consume them in
// consumer group -group, commit, list topics. Every step prints JSON lines
// (jsonl) for go_clients_check.py; a failed step prints an "error" event and
// the program exits 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"time"

	"github.com/Shopify/sarama"
	"stratagotest/jsonl"
)

// groupHandler marks each of the first n records for commit and closes done
// once it has them all.
type groupHandler struct {
	n    int
	got  int
	done chan struct{}
	next map[int32]int64 // offset to commit, per partition
}

func (h *groupHandler) Setup(s sarama.ConsumerGroupSession) error {
	jsonl.Emit("assigned", map[string]interface{}{"claims": s.Claims()})
	return nil
}

func (h *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *groupHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		if h.got >= h.n {
			continue
		}
		jsonl.Emit("consumed", map[string]interface{}{"partition": m.Partition, "offset": m.Offset,
			"key": jsonl.Hex(m.Key), "value": jsonl.Hex(m.Value)})
		s.MarkMessage(m, "")
		h.next[m.Partition] = m.Offset + 1
		h.got++
		if h.got == h.n {
			close(h.done)
		}
	}
	return nil
}

func main() {
	versionText := flag.String("version", "1.0.0", "sarama Config.Version (the Kafka version it assumes)")
	o := jsonl.ParseFlags()
	version, err := sarama.ParseKafkaVersion(*versionText)
	if err != nil {
		jsonl.Fail("version", err)
	}
	conf := sarama.NewConfig()
	conf.ClientID = "strata-go-sarama"
	conf.Version = version
	conf.Net.DialTimeout = o.Timeout
	conf.Net.ReadTimeout = o.Timeout
	conf.Net.WriteTimeout = o.Timeout
	conf.Producer.RequiredAcks = sarama.WaitForAll
	conf.Producer.Return.Successes = true
	conf.Producer.Partitioner = sarama.NewManualPartitioner
	conf.Consumer.Offsets.Initial = sarama.OffsetOldest
	conf.Consumer.Return.Errors = true
	jsonl.Emit("start", map[string]interface{}{"client": "sarama", "version": version.String()})

	// 1. Produce: one synchronous send per record.
	producer, err := sarama.NewSyncProducer([]string{o.Bootstrap}, conf)
	if err != nil {
		jsonl.Fail("produce", err)
	}
	for _, r := range o.Records {
		msg := &sarama.ProducerMessage{Topic: o.Topic, Partition: 0}
		if r.Key != nil {
			msg.Key = sarama.ByteEncoder(r.Key)
		}
		if r.Value != nil {
			msg.Value = sarama.ByteEncoder(r.Value)
		}
		partition, offset, err := producer.SendMessage(msg)
		if err != nil {
			jsonl.Fail("produce", err)
		}
		jsonl.Emit("produced", map[string]interface{}{"partition": partition, "offset": offset})
	}
	if err := producer.Close(); err != nil {
		jsonl.Fail("produce", err)
	}

	// 2. Consume in the group; 3. commit: the offset manager commits the
	// marked offsets when the group closes.
	cg, err := sarama.NewConsumerGroup([]string{o.Bootstrap}, o.Group, conf)
	if err != nil {
		jsonl.Fail("consume", err)
	}
	go func() {
		for err := range cg.Errors() {
			jsonl.Emit("warning", map[string]interface{}{"step": "consume", "error": err.Error()})
		}
	}()
	h := &groupHandler{n: len(o.Records), done: make(chan struct{}), next: map[int32]int64{}}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	go func() {
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{o.Topic}, h); err != nil {
				jsonl.Emit("warning", map[string]interface{}{"step": "consume", "error": err.Error()})
				time.Sleep(200 * time.Millisecond)
			}
		}
	}()
	select {
	case <-h.done:
	case <-ctx.Done():
		jsonl.Fail("consume", fmt.Errorf("consumed %d of %d records within %s", h.got, h.n, o.Timeout))
	}
	cancel()
	if err := cg.Close(); err != nil {
		jsonl.Fail("commit", err)
	}
	for p, o := range h.next {
		jsonl.Emit("committed", map[string]interface{}{"partition": p, "offset": o})
	}

	// 4. List topics. ClusterAdmin.ListTopics (Metadata for all topics, then
	// DescribeConfigs) needs Config.Version 0.11 or later, which sarama
	// checks itself; before that a user lists them with Client.Topics.
	names := []string{}
	if version.IsAtLeast(sarama.V0_11_0_0) {
		admin, err := sarama.NewClusterAdmin([]string{o.Bootstrap}, conf)
		if err != nil {
			jsonl.Fail("list_topics", err)
		}
		topics, err := admin.ListTopics()
		if err != nil {
			jsonl.Fail("list_topics", err)
		}
		for name := range topics {
			names = append(names, name)
		}
		admin.Close()
	} else {
		client, err := sarama.NewClient([]string{o.Bootstrap}, conf)
		if err != nil {
			jsonl.Fail("list_topics", err)
		}
		if names, err = client.Topics(); err != nil {
			jsonl.Fail("list_topics", err)
		}
		client.Close()
	}
	sort.Strings(names)
	jsonl.Emit("topics", map[string]interface{}{"topics": names})
	jsonl.Emit("done", nil)
}
