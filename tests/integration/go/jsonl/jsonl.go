// Package jsonl is what the three Go client programs share: the records to
// produce (read from a file of JSON lines) and the JSON lines they print
// for go_clients_check.py.
package jsonl

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"
)

// Options are the flags every program takes.
type Options struct {
	Bootstrap string
	Topic     string
	Group     string
	Records   []Record
	Timeout   time.Duration // for each step
}

// ParseFlags parses the command line (a program defines its own flags
// before calling it) and reads the records; it exits 1 when they do not read.
func ParseFlags() Options {
	var o Options
	flag.StringVar(&o.Bootstrap, "bootstrap", "127.0.0.1:9092", "broker address")
	flag.StringVar(&o.Topic, "topic", "", "topic to produce to and consume from")
	flag.StringVar(&o.Group, "group", "", "consumer group")
	recordsPath := flag.String("records", "", "JSON lines of {\"key\":hex,\"value\":hex}")
	flag.DurationVar(&o.Timeout, "timeout", 60*time.Second, "limit for each step")
	flag.Parse()
	records, err := ReadRecords(*recordsPath)
	if err != nil {
		Fail("records", err)
	}
	o.Records = records
	return o
}

// Record is one record to produce; nil is a null key or value.
type Record struct {
	Key, Value []byte
}

// ReadRecords reads lines of {"key": hex or null, "value": hex or null}.
func ReadRecords(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var records []Record
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 1<<24)
	for scanner.Scan() {
		var line map[string]interface{}
		if err := json.Unmarshal(scanner.Bytes(), &line); err != nil {
			return nil, err
		}
		var r Record
		if r.Key, err = unhex(line["key"]); err != nil {
			return nil, err
		}
		if r.Value, err = unhex(line["value"]); err != nil {
			return nil, err
		}
		records = append(records, r)
	}
	return records, scanner.Err()
}

func unhex(v interface{}) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("not a hex string: %v", v)
	}
	b, err := hex.DecodeString(s)
	if b == nil {
		b = []byte{} // empty, which is not null
	}
	return b, err
}

// Hex is b in hex, or nil (JSON null) for a null key or value.
func Hex(b []byte) interface{} {
	if b == nil {
		return nil
	}
	return hex.EncodeToString(b)
}

var mu sync.Mutex

// Emit prints one event as a JSON line.
func Emit(event string, fields map[string]interface{}) {
	line := map[string]interface{}{"event": event}
	for k, v := range fields {
		line[k] = v
	}
	text, err := json.Marshal(line)
	if err != nil {
		text = []byte(fmt.Sprintf(`{"event":"error","step":"print","error":%q}`, err.Error()))
	}
	mu.Lock()
	os.Stdout.Write(append(text, '\n'))
	mu.Unlock()
}

// Fail prints an error event for step and exits 1.
func Fail(step string, err error) {
	Emit("error", map[string]interface{}{"step": step, "error": err.Error()})
	os.Exit(1)
}
