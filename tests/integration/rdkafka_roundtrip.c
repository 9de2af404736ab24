/* rdkafka_roundtrip: the keyed-records round trip of rtspec.py through
 * librdkafka's C API, once per compression codec.
 *
 *   rdkafka_roundtrip BOOTSTRAP [COUNT [CODEC...]]
 *
 * For each codec (default: none gzip snappy lz4 zstd) it creates topic
 * "rdk-<codec>" with 3 partitions (Admin API), produces COUNT (default
 * 20,000) records with an idempotent acks=all producer, then reads every
 * partition from the beginning to its high watermark with assign() and checks
 * that each record came back exactly once, in produce order per partition,
 * with key, value, headers and CreateTime timestamp byte-for-byte intact, at
 * the partition and offset its delivery report named.
 *
 * Record i (must match rtspec.py):
 *   key      "key-<i % 101>"
 *   value    NULL for i == 7, empty for i == 8, else "v<i>:" followed by
 *            (i * 37) % 300 bytes, byte j being (31 i + 7 j) mod 256
 *   headers  idx="<i>", bin=<i as 4 big-endian bytes>,
 *            dup="a", dup="b" when i % 10 == 0, null=NULL when i % 13 == 0
 *   timestamp base + i ms
 *
 * Exit status 0 when every codec round-tripped; the last line says so. */
#include <librdkafka/rdkafka.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
	ROUNDTRIP_PARTITIONS = 3,
	ROUNDTRIP_KEYS = 101,
	ROUNDTRIP_VALUE_MAX_BYTES = 32 + 300,
	ROUNDTRIP_HEADERS_MAX = 6,
	ROUNDTRIP_ERRORS_SHOWN = 20,
	ROUNDTRIP_TIMEOUT_MS = 60 * 1000,
};

typedef struct roundtrip_header {
	const char *name;
	const void *value; /* NULL: a null header value */
	size_t value_bytes;
} roundtrip_header_t;

typedef struct roundtrip_record {
	char key[16];
	size_t key_bytes;
	bool value_null;
	unsigned char value[ROUNDTRIP_VALUE_MAX_BYTES];
	size_t value_bytes;
	char idx[16];
	unsigned char bin[4];
	roundtrip_header_t headers[ROUNDTRIP_HEADERS_MAX];
	int header_count;
	int64_t timestamp_ms;
} roundtrip_record_t;

/* What the producer learned and the consumer saw, per record index. */
typedef struct roundtrip_state {
	int count;
	int32_t *delivered_partition; /* -1: no successful delivery report */
	int64_t *delivered_offset;
	int delivery_errors;
	char first_delivery_error[256];
	unsigned char *read_times;
	int errors;
} roundtrip_state_t;

static void roundtrip_fail(roundtrip_state_t *state, const char *fmt, ...)
{
	va_list ap;

	state->errors++;
	if (state->errors > ROUNDTRIP_ERRORS_SHOWN)
		return;
	va_start(ap, fmt);
	fputs("  ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
}

static void roundtrip_record_make(roundtrip_record_t *rec, int i, int64_t base_ms)
{
	int n = 0;
	size_t j;
	size_t pattern_bytes;

	memset(rec, 0, sizeof(*rec));
	rec->key_bytes = (size_t)snprintf(rec->key, sizeof(rec->key), "key-%d", i % ROUNDTRIP_KEYS);
	if (i == 7) {
		rec->value_null = true;
	} else if (i != 8) {
		rec->value_bytes = (size_t)snprintf((char *)rec->value, sizeof(rec->value), "v%d:", i);
		pattern_bytes = (size_t)((i * 37) % 300);
		for (j = 0; j < pattern_bytes; j++)
			rec->value[rec->value_bytes + j] = (unsigned char)((31u * (unsigned)i + 7u * (unsigned)j) & 0xFF);
		rec->value_bytes += pattern_bytes;
	}
	snprintf(rec->idx, sizeof(rec->idx), "%d", i);
	rec->bin[0] = (unsigned char)(i >> 24);
	rec->bin[1] = (unsigned char)(i >> 16);
	rec->bin[2] = (unsigned char)(i >> 8);
	rec->bin[3] = (unsigned char)i;
	rec->headers[n++] = (roundtrip_header_t){"idx", rec->idx, strlen(rec->idx)};
	rec->headers[n++] = (roundtrip_header_t){"bin", rec->bin, 4};
	if (i % 10 == 0) {
		rec->headers[n++] = (roundtrip_header_t){"dup", "a", 1};
		rec->headers[n++] = (roundtrip_header_t){"dup", "b", 1};
	}
	if (i % 13 == 0)
		rec->headers[n++] = (roundtrip_header_t){"null", NULL, 0};
	rec->header_count = n;
	rec->timestamp_ms = base_ms + i;
}

static void roundtrip_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	roundtrip_state_t *state = opaque;
	intptr_t i = (intptr_t)m->_private;

	(void)rk;
	if (i < 0 || i >= state->count)
		return;
	if (m->err) {
		if (state->delivery_errors++ == 0)
			snprintf(state->first_delivery_error, sizeof(state->first_delivery_error),
				 "record %d: %s", (int)i, rd_kafka_err2str(m->err));
		return;
	}
	state->delivered_partition[i] = m->partition;
	state->delivered_offset[i] = m->offset;
}

static rd_kafka_conf_t *roundtrip_conf(const char *bootstrap)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char errstr[256];

	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "rdkafka_roundtrip: %s\n", errstr);
		exit(2);
	}
	return conf;
}

static void roundtrip_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
	char errstr[256];

	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "rdkafka_roundtrip: %s=%s: %s\n", name, value, errstr);
		exit(2);
	}
}

/* Creates the topic and waits until metadata shows every partition led. */
static int roundtrip_create_topic(const char *bootstrap, const char *topic)
{
	char errstr[256];
	rd_kafka_conf_t *conf = roundtrip_conf(bootstrap);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	rd_kafka_NewTopic_t *nt;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	const rd_kafka_CreateTopics_result_t *res;
	const rd_kafka_topic_result_t **results;
	size_t n;
	int rc = -1;
	int attempt;

	if (!rk) {
		printf("  create %s: rd_kafka_new: %s\n", topic, errstr);
		return -1;
	}
	nt = rd_kafka_NewTopic_new(topic, ROUNDTRIP_PARTITIONS, 1, errstr, sizeof(errstr));
	q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	ev = rd_kafka_queue_poll(q, ROUNDTRIP_TIMEOUT_MS);
	if (!ev) {
		printf("  create %s: no CreateTopics result\n", topic);
		goto err_destroy;
	}
	if (rd_kafka_event_error(ev)) {
		printf("  create %s: %s\n", topic, rd_kafka_event_error_string(ev));
		goto err_event;
	}
	res = rd_kafka_event_CreateTopics_result(ev);
	results = rd_kafka_CreateTopics_result_topics(res, &n);
	if (n != 1 || rd_kafka_topic_result_error(results[0])) {
		printf("  create %s: %s\n", topic, n ? rd_kafka_topic_result_error_string(results[0]) : "no result");
		goto err_event;
	}
	for (attempt = 0; attempt < 100 && rc != 0; attempt++) {
		const struct rd_kafka_metadata *md;
		rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);

		if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
			if (md->topic_cnt == 1 && !md->topics[0].err &&
			    md->topics[0].partition_cnt == ROUNDTRIP_PARTITIONS) {
				int p;

				rc = 0;
				for (p = 0; p < md->topics[0].partition_cnt; p++)
					if (md->topics[0].partitions[p].leader < 0)
						rc = -1;
			}
			rd_kafka_metadata_destroy(md);
		}
		rd_kafka_topic_destroy(rkt);
		if (rc != 0) {
			struct timespec ts = {0, 100 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	if (rc != 0)
		printf("  create %s: metadata never showed %d led partitions\n", topic, ROUNDTRIP_PARTITIONS);
err_event:
	rd_kafka_event_destroy(ev);
err_destroy:
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
	rd_kafka_destroy(rk);
	return rc;
}

static int roundtrip_produce(const char *bootstrap, const char *topic, const char *codec,
			     int64_t base_ms, roundtrip_state_t *state)
{
	char errstr[256];
	rd_kafka_conf_t *conf = roundtrip_conf(bootstrap);
	rd_kafka_t *rk;
	roundtrip_record_t rec;
	int i;
	int rc = 0;

	roundtrip_conf_set(conf, "acks", "all");
	roundtrip_conf_set(conf, "enable.idempotence", "true");
	roundtrip_conf_set(conf, "compression.codec", codec);
	roundtrip_conf_set(conf, "linger.ms", "5");
	roundtrip_conf_set(conf, "message.timeout.ms", "60000");
	rd_kafka_conf_set_dr_msg_cb(conf, roundtrip_delivered);
	rd_kafka_conf_set_opaque(conf, state);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		printf("  producer: %s\n", errstr);
		return -1;
	}
	for (i = 0; i < state->count; i++) {
		rd_kafka_resp_err_t err;

		roundtrip_record_make(&rec, i, base_ms);
		do {
			rd_kafka_headers_t *hdrs = rd_kafka_headers_new((size_t)rec.header_count);
			int h;

			for (h = 0; h < rec.header_count; h++)
				rd_kafka_header_add(hdrs, rec.headers[h].name, -1, rec.headers[h].value,
						    rec.headers[h].value ? (ssize_t)rec.headers[h].value_bytes : 0);
			err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
						RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
						RD_KAFKA_V_KEY(rec.key, rec.key_bytes),
						RD_KAFKA_V_VALUE(rec.value_null ? NULL : rec.value, rec.value_bytes),
						RD_KAFKA_V_HEADERS(hdrs),
						RD_KAFKA_V_TIMESTAMP(rec.timestamp_ms),
						RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_END);
			if (err) {
				/* On failure the headers stay ours. */
				rd_kafka_headers_destroy(hdrs);
				if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
					rd_kafka_poll(rk, 50);
			}
		} while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
		if (err) {
			printf("  produce record %d: %s\n", i, rd_kafka_err2str(err));
			rc = -1;
			break;
		}
		rd_kafka_poll(rk, 0);
	}
	if (rd_kafka_flush(rk, ROUNDTRIP_TIMEOUT_MS)) {
		printf("  %d records undelivered after flush\n", rd_kafka_outq_len(rk));
		rc = -1;
	}
	if (state->delivery_errors) {
		printf("  %d delivery errors, first: %s\n", state->delivery_errors, state->first_delivery_error);
		rc = -1;
	}
	rd_kafka_destroy(rk);
	return rc;
}

static bool roundtrip_bytes_equal(const void *a, size_t a_bytes, const void *b, size_t b_bytes)
{
	return a_bytes == b_bytes && (a_bytes == 0 || memcmp(a, b, a_bytes) == 0);
}

/* Checks one consumed message against its record; returns its index or -1. */
static int roundtrip_check_message(roundtrip_state_t *state, rd_kafka_message_t *m, int64_t base_ms,
				   int *last_index, int *key_partition)
{
	rd_kafka_headers_t *hdrs = NULL;
	const void *v;
	size_t v_bytes;
	char idx[16];
	int i;
	int h;
	size_t count;
	roundtrip_record_t rec;
	rd_kafka_timestamp_type_t ts_type;
	int64_t ts;

	if (rd_kafka_message_headers(m, &hdrs) || rd_kafka_header_get(hdrs, 0, "idx", &v, &v_bytes) ||
	    !v || v_bytes == 0 || v_bytes >= sizeof(idx)) {
		roundtrip_fail(state, "partition %d offset %" PRId64 ": no idx header", m->partition, m->offset);
		return -1;
	}
	memcpy(idx, v, v_bytes);
	idx[v_bytes] = '\0';
	i = atoi(idx);
	if (i < 0 || i >= state->count) {
		roundtrip_fail(state, "partition %d offset %" PRId64 ": idx %s out of range", m->partition, m->offset, idx);
		return -1;
	}
	if (state->read_times[i]++) {
		roundtrip_fail(state, "record %d read twice (again at %d/%" PRId64 ")", i, m->partition, m->offset);
		return -1;
	}
	roundtrip_record_make(&rec, i, base_ms);
	if (!roundtrip_bytes_equal(m->key, m->key_len, rec.key, rec.key_bytes))
		roundtrip_fail(state, "record %d: key differs (%zu bytes)", i, m->key_len);
	if (rec.value_null ? m->payload != NULL
			   : (m->payload == NULL || !roundtrip_bytes_equal(m->payload, m->len, rec.value, rec.value_bytes)))
		roundtrip_fail(state, "record %d: value differs (%s, %zu bytes)", i, m->payload ? "non-null" : "null", m->len);
	count = rd_kafka_header_cnt(hdrs);
	if (count != (size_t)rec.header_count)
		roundtrip_fail(state, "record %d: %zu headers, expected %d", i, count, rec.header_count);
	for (h = 0; h < rec.header_count && (size_t)h < count; h++) {
		const char *name;

		rd_kafka_header_get_all(hdrs, (size_t)h, &name, &v, &v_bytes);
		if (strcmp(name, rec.headers[h].name) != 0 ||
		    (rec.headers[h].value == NULL) != (v == NULL) ||
		    (v && !roundtrip_bytes_equal(v, v_bytes, rec.headers[h].value, rec.headers[h].value_bytes)))
			roundtrip_fail(state, "record %d: header %d (%s) differs", i, h, name);
	}
	ts = rd_kafka_message_timestamp(m, &ts_type);
	if (ts != rec.timestamp_ms || ts_type != RD_KAFKA_TIMESTAMP_CREATE_TIME)
		roundtrip_fail(state, "record %d: timestamp %" PRId64 " type %d, expected %" PRId64 " CreateTime",
			       i, ts, (int)ts_type, rec.timestamp_ms);
	if (i <= last_index[m->partition])
		roundtrip_fail(state, "record %d read after record %d on partition %d", i, last_index[m->partition], m->partition);
	last_index[m->partition] = i;
	if (key_partition[i % ROUNDTRIP_KEYS] < 0)
		key_partition[i % ROUNDTRIP_KEYS] = m->partition;
	else if (key_partition[i % ROUNDTRIP_KEYS] != m->partition)
		roundtrip_fail(state, "record %d: key %s on partitions %d and %d", i, rec.key,
			       key_partition[i % ROUNDTRIP_KEYS], m->partition);
	if (state->delivered_partition[i] != m->partition || state->delivered_offset[i] != m->offset)
		roundtrip_fail(state, "record %d read at %d/%" PRId64 ", delivery report said %d/%" PRId64, i,
			       m->partition, m->offset, state->delivered_partition[i], state->delivered_offset[i]);
	return i;
}

static int roundtrip_consume(const char *bootstrap, const char *topic, int64_t base_ms,
			     roundtrip_state_t *state, int *per_partition)
{
	char errstr[256];
	char group[128];
	rd_kafka_conf_t *conf = roundtrip_conf(bootstrap);
	rd_kafka_t *rk;
	rd_kafka_topic_partition_list_t *parts;
	int64_t high[ROUNDTRIP_PARTITIONS];
	bool at_end[ROUNDTRIP_PARTITIONS];
	int last_index[ROUNDTRIP_PARTITIONS];
	int key_partition[ROUNDTRIP_KEYS];
	int ends = 0;
	int p;
	int i;
	int rc = 0;
	struct timespec start, now;

	/* A group.id is required by the consumer type, but with assign() and no
	 * commits no group is joined. */
	snprintf(group, sizeof(group), "rdkafka-roundtrip-%s", topic);
	roundtrip_conf_set(conf, "group.id", group);
	roundtrip_conf_set(conf, "enable.auto.commit", "false");
	roundtrip_conf_set(conf, "enable.partition.eof", "true");
	roundtrip_conf_set(conf, "auto.offset.reset", "error");
	roundtrip_conf_set(conf, "fetch.wait.max.ms", "100");
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!rk) {
		printf("  consumer: %s\n", errstr);
		return -1;
	}
	rd_kafka_poll_set_consumer(rk);
	parts = rd_kafka_topic_partition_list_new(ROUNDTRIP_PARTITIONS);
	for (p = 0; p < ROUNDTRIP_PARTITIONS; p++) {
		int64_t low;
		rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, topic, p, &low, &high[p], 10000);

		if (err || low != 0) {
			printf("  watermarks of partition %d: %s, low %" PRId64 "\n", p, rd_kafka_err2str(err), low);
			rc = -1;
			goto err_destroy;
		}
		at_end[p] = false;
		last_index[p] = -1;
		per_partition[p] = 0;
		rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	}
	for (i = 0; i < ROUNDTRIP_KEYS; i++)
		key_partition[i] = -1;
	rd_kafka_assign(rk, parts);
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (ends < ROUNDTRIP_PARTITIONS) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);

		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 > ROUNDTRIP_TIMEOUT_MS) {
			printf("  consume timed out with %d of %d partitions at their end\n", ends, ROUNDTRIP_PARTITIONS);
			rc = -1;
			break;
		}
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			if (m->partition >= 0 && m->partition < ROUNDTRIP_PARTITIONS && !at_end[m->partition] &&
			    m->offset >= high[m->partition]) {
				at_end[m->partition] = true;
				ends++;
			}
		} else if (m->err) {
			printf("  consume: %s\n", rd_kafka_message_errstr(m));
			rc = -1;
			rd_kafka_message_destroy(m);
			break;
		} else if (m->partition < 0 || m->partition >= ROUNDTRIP_PARTITIONS) {
			roundtrip_fail(state, "message from partition %d", m->partition);
		} else if (roundtrip_check_message(state, m, base_ms, last_index, key_partition) >= 0) {
			per_partition[m->partition]++;
		}
		rd_kafka_message_destroy(m);
	}
	for (i = 0; i < state->count; i++) {
		if (!state->read_times[i]) {
			roundtrip_fail(state, "record %d never read back", i);
		}
	}
err_destroy:
	rd_kafka_topic_partition_list_destroy(parts);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}

static int roundtrip_codec(const char *bootstrap, const char *codec, int count)
{
	char topic[64];
	roundtrip_state_t state;
	int per_partition[ROUNDTRIP_PARTITIONS] = {0};
	int64_t base_ms = ((int64_t)time(NULL) - 3600) * 1000;
	int i;
	int rc;

	snprintf(topic, sizeof(topic), "rdk-%s", codec);
	memset(&state, 0, sizeof(state));
	state.count = count;
	state.delivered_partition = calloc((size_t)count, sizeof(*state.delivered_partition));
	state.delivered_offset = calloc((size_t)count, sizeof(*state.delivered_offset));
	state.read_times = calloc((size_t)count, 1);
	if (!state.delivered_partition || !state.delivered_offset || !state.read_times) {
		fprintf(stderr, "rdkafka_roundtrip: out of memory\n");
		exit(2);
	}
	for (i = 0; i < count; i++)
		state.delivered_partition[i] = -1;
	rc = roundtrip_create_topic(bootstrap, topic);
	if (rc == 0)
		rc = roundtrip_produce(bootstrap, topic, codec, base_ms, &state);
	if (rc == 0)
		rc = roundtrip_consume(bootstrap, topic, base_ms, &state, per_partition);
	if (rc == 0 && state.errors)
		rc = -1;
	if (rc == 0 && (!per_partition[0] || !per_partition[1] || !per_partition[2])) {
		printf("  a partition got no records\n");
		rc = -1;
	}
	printf("rdkafka_roundtrip: codec=%s records=%d per-partition=%d,%d,%d errors=%d %s\n", codec, count,
	       per_partition[0], per_partition[1], per_partition[2], state.errors, rc == 0 ? "OK" : "FAILED");
	fflush(stdout);
	free(state.delivered_partition);
	free(state.delivered_offset);
	free(state.read_times);
	return rc;
}

int main(int argc, char **argv)
{
	static const char *default_codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};
	const char **codecs = default_codecs;
	int codec_count = 5;
	int count = 20000;
	int ok = 0;
	int c;

	if (argc < 2) {
		fprintf(stderr, "usage: %s BOOTSTRAP [COUNT [CODEC...]]\n", argv[0]);
		return 2;
	}
	if (argc >= 3)
		count = atoi(argv[2]);
	if (count <= ROUNDTRIP_KEYS) {
		fprintf(stderr, "rdkafka_roundtrip: COUNT must exceed %d\n", ROUNDTRIP_KEYS);
		return 2;
	}
	if (argc >= 4) {
		codecs = (const char **)&argv[3];
		codec_count = argc - 3;
	}
	printf("rdkafka_roundtrip: librdkafka %s, %d records per codec\n", rd_kafka_version_str(), count);
	for (c = 0; c < codec_count; c++)
		ok += roundtrip_codec(argv[1], codecs[c], count) == 0;
	printf("rdkafka_roundtrip: %d/%d codecs OK\n", ok, codec_count);
	return ok == codec_count ? 0 : 1;
}
