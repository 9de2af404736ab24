/* bench: one librdkafka client that measures any Kafka broker, so that Strata
 * and the reference (librdkafka's mock cluster, mock_cluster.c) are measured
 * by exactly the same code. A benchmark, not a test: it is never part of the
 * pass/fail suite; tests/bench/run_bench.py drives it.
 *
 *   bench produce -b BOOTSTRAP -t TOPIC [-n RECORDS] [-s VALUE_BYTES]
 *                 [-a 1|all] [-i] [-z none|lz4] [-p PARTITIONS] [-l LINGER_MS] [-e]
 *   bench consume -b BOOTSTRAP -t TOPIC [-n RECORDS] [-p PARTITIONS]
 *   bench latency -b BOOTSTRAP -t TOPIC [-r RECORDS_PER_S] [-d SECONDS]
 *                 [-w WARMUP_SECONDS] [-s VALUE_BYTES] [-a 1|all] [-i]
 *                 [-l LINGER_MS] [-p PARTITIONS]
 *   bench topic   -b BOOTSTRAP -t TOPIC [-p PARTITIONS]
 *   common: [-L LABEL] [-T TIMEOUT_S]
 *
 * produce  N records of S value bytes (no key) as fast as librdkafka takes
 *          them; linger.ms 5, batch.num.messages 1,000,000. Timed from the
 *          first produce call to the last delivery report. Records have no
 *          key, so librdkafka's sticky partitioner spreads them; -e instead
 *          sends the first N/P records to partition 0, the next to 1, ...
 *          (exactly even partitions, used to fill a topic for consume).
 * consume  N records from offset 0 of every partition with assign(); timed
 *          from assign() to the N-th record handed to the application.
 *          Before the clock starts the group coordinator is looked up (an
 *          OffsetFetch through rd_kafka_committed()), so that a fresh broker
 *          creating __consumer_offsets for the first FindCoordinator is not
 *          counted as consume time.
 *          Gives up (exit 1) when no record arrives for 10 s; note that the
 *          mock cluster keeps only the newest ~5 MiB of each partition.
 * latency  a producer at a fixed rate (default 10,000 records/s for 10 s
 *          after 1 s of warm-up) and a consumer in the same process (default
 *          fetch.wait.max.ms 500). Each value starts with the CLOCK_MONOTONIC
 *          ns of its produce call; the consumer records receive - send.
 *          linger.ms defaults to 0 here: a 5 ms linger would be 5 ms of
 *          latency by itself.
 * topic    only makes the topic exist (as below) and exits.
 *
 * Before measuring, the topic is made to exist with PARTITIONS partitions
 * (default 1): kept if already there, else CreateTopics, else auto-creation
 * through Metadata; a different partition count is an error.
 *
 * BENCH_DEBUG in the environment sets librdkafka's debug contexts.
 *
 * Output: one line of key=value pairs on stdout. MB is 10^6 bytes of record
 * values (keys, headers and protocol overhead not counted).
 * Exit status: 0 when every record was delivered/received, 1 otherwise,
 * 2 on a usage error. The process aborts itself (SIGALRM) after TIMEOUT_S
 * (default 300) so a stuck broker cannot stall a benchmark run forever. */
#include <librdkafka/rdkafka.h>

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
	BENCH_VALUE_BYTES_MIN_LATENCY = 16, /* send_ns + sequence number */
	BENCH_VALUE_BYTES_MAX = 1000 * 1000,
	BENCH_PAYLOAD_POOL_BYTES = 4 * 1024 * 1024,
	BENCH_PAYLOAD_CHUNK_BYTES = 64,
	BENCH_PAYLOAD_TEMPLATES = 16,
	BENCH_PARTITIONS_MAX = 10000,
	BENCH_CONSUME_BATCH_MAX = 4096,
	BENCH_POLL_EVERY_RECORDS = 1000,
	BENCH_TOPIC_READY_TIMEOUT_MS = 20 * 1000,
	BENCH_METADATA_TIMEOUT_MS = 2000,
	BENCH_ADMIN_TIMEOUT_MS = 10 * 1000,
	BENCH_FLUSH_TIMEOUT_MS = 120 * 1000,
	BENCH_LATENCY_DRAIN_TIMEOUT_MS = 15 * 1000,
	BENCH_LATENCY_RATE_MAX = 10 * 1000 * 1000,
	BENCH_LATENCY_SECONDS_MAX = 3600,
	BENCH_TIMEOUT_S_DEFAULT = 300,
	BENCH_CONSUME_IDLE_TIMEOUT_MS = 10 * 1000,
};

_Static_assert(BENCH_PAYLOAD_POOL_BYTES > BENCH_VALUE_BYTES_MAX,
	       "a value is a slice of the payload pool");
_Static_assert(BENCH_PAYLOAD_POOL_BYTES % BENCH_PAYLOAD_CHUNK_BYTES == 0,
	       "the pool is made of whole chunks");

typedef enum bench_mode {
	BENCH_MODE_PRODUCE,
	BENCH_MODE_CONSUME,
	BENCH_MODE_LATENCY,
	BENCH_MODE_TOPIC,
} bench_mode_t;

typedef struct bench_options {
	bench_mode_t mode;
	const char *mode_name;
	const char *bootstrap;
	const char *topic;
	const char *label;
	const char *acks; /* "1" or "all" */
	const char *compression; /* "none" or "lz4" */
	long records;
	long value_bytes;
	long partitions;
	long linger_ms; /* -1: the mode's default */
	long rate_records_per_s;
	long duration_s;
	long warmup_s;
	long timeout_s;
	bool idempotent;
	bool even_partitions;
} bench_options_t;

/* Shared by the producer callbacks and the caller. Delivery reports are
 * served from rd_kafka_poll()/flush() on the calling thread, but the latency
 * mode's consumer thread reads nothing here, so plain fields would do; the
 * atomics keep that true if the callbacks ever move. */
typedef struct bench_produce_state {
	atomic_long delivered;
	atomic_long failed;
	int64_t last_delivery_ns;
	rd_kafka_resp_err_t first_error;
} bench_produce_state_t;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die_usage(const char *why)
{
	fprintf(stderr, "bench: %s\n"
		"usage: bench produce|consume|latency|topic -b BOOTSTRAP -t TOPIC [-n RECORDS]\n"
		"       [-s VALUE_BYTES] [-a 1|all] [-i] [-z none|lz4] [-p PARTITIONS]\n"
		"       [-l LINGER_MS] [-r RECORDS_PER_S] [-d SECONDS] [-w WARMUP_SECONDS]\n"
		"       [-L LABEL] [-T TIMEOUT_S]\n", why);
	exit(2);
}

static long parse_long(const char *text, long min, long max, const char *what)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || !end || *end != '\0' || v < min || v > max) {
		char why[160];
		snprintf(why, sizeof why, "%s must be an integer in [%ld, %ld], not '%s'", what,
			 min, max, text);
		die_usage(why);
	}
	return v;
}

static void parse_options(int argc, char **argv, bench_options_t *o)
{
	*o = (bench_options_t){
		.label = "broker", .acks = "1", .compression = "none", .records = 1000000,
		.value_bytes = 100, .partitions = 1, .linger_ms = -1,
		.rate_records_per_s = 10000, .duration_s = 10, .warmup_s = 1,
		.timeout_s = BENCH_TIMEOUT_S_DEFAULT,
	};
	if (argc < 2)
		die_usage("no mode");
	o->mode_name = argv[1];
	if (strcmp(argv[1], "produce") == 0)
		o->mode = BENCH_MODE_PRODUCE;
	else if (strcmp(argv[1], "consume") == 0)
		o->mode = BENCH_MODE_CONSUME;
	else if (strcmp(argv[1], "latency") == 0)
		o->mode = BENCH_MODE_LATENCY;
	else if (strcmp(argv[1], "topic") == 0)
		o->mode = BENCH_MODE_TOPIC;
	else
		die_usage("mode must be produce, consume, latency or topic");
	if (o->mode == BENCH_MODE_LATENCY)
		o->acks = "all";

	optind = 2;
	int c;
	while ((c = getopt(argc, argv, "b:t:n:s:a:iez:p:l:r:d:w:L:T:")) != -1) {
		switch (c) {
		case 'b': o->bootstrap = optarg; break;
		case 't': o->topic = optarg; break;
		case 'n': o->records = parse_long(optarg, 1, 1L << 40, "-n"); break;
		case 's': o->value_bytes = parse_long(optarg, 0, BENCH_VALUE_BYTES_MAX, "-s"); break;
		case 'a':
			if (strcmp(optarg, "1") != 0 && strcmp(optarg, "all") != 0)
				die_usage("-a must be 1 or all");
			o->acks = optarg;
			break;
		case 'i': o->idempotent = true; break;
		case 'e': o->even_partitions = true; break;
		case 'z':
			if (strcmp(optarg, "none") != 0 && strcmp(optarg, "lz4") != 0)
				die_usage("-z must be none or lz4");
			o->compression = optarg;
			break;
		case 'p': o->partitions = parse_long(optarg, 1, BENCH_PARTITIONS_MAX, "-p"); break;
		case 'l': o->linger_ms = parse_long(optarg, 0, 60000, "-l"); break;
		case 'r': o->rate_records_per_s = parse_long(optarg, 1, BENCH_LATENCY_RATE_MAX, "-r"); break;
		case 'd': o->duration_s = parse_long(optarg, 1, BENCH_LATENCY_SECONDS_MAX, "-d"); break;
		case 'w': o->warmup_s = parse_long(optarg, 0, BENCH_LATENCY_SECONDS_MAX, "-w"); break;
		case 'L': o->label = optarg; break;
		case 'T': o->timeout_s = parse_long(optarg, 1, 86400, "-T"); break;
		default: die_usage("unknown option");
		}
	}
	if (optind != argc)
		die_usage("unexpected argument");
	if (!o->bootstrap || !o->topic)
		die_usage("-b and -t are required");
	if (o->linger_ms < 0)
		o->linger_ms = o->mode == BENCH_MODE_LATENCY ? 0 : 5;
	if (o->mode == BENCH_MODE_LATENCY && o->value_bytes < BENCH_VALUE_BYTES_MIN_LATENCY)
		o->value_bytes = BENCH_VALUE_BYTES_MIN_LATENCY;
	if (o->idempotent && strcmp(o->acks, "all") != 0)
		die_usage("-i (idempotence) requires -a all");
}

static void conf_set_or_die(rd_kafka_conf_t *conf, const char *name, const char *value)
{
	char errstr[512];
	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "bench: %s=%s: %s\n", name, value, errstr);
		exit(2);
	}
}

static void conf_set_long(rd_kafka_conf_t *conf, const char *name, long value)
{
	char text[32];
	snprintf(text, sizeof text, "%ld", value);
	conf_set_or_die(conf, name, text);
}

static rd_kafka_conf_t *base_conf(const bench_options_t *o)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	conf_set_or_die(conf, "bootstrap.servers", o->bootstrap);
	conf_set_or_die(conf, "client.id", "strata-bench");
	/* The latency run measures the broker, not Nagle's algorithm holding a
	 * small request back until the previous one is acknowledged: a
	 * latency-minded client disables it (both brokers get the same). */
	if (o->mode == BENCH_MODE_LATENCY)
		conf_set_or_die(conf, "socket.nagle.disable", "true");
	/* BENCH_DEBUG=<librdkafka debug contexts>, e.g. "fetch,protocol". */
	const char *debug = getenv("BENCH_DEBUG");
	if (debug && *debug)
		conf_set_or_die(conf, "debug", debug);
	return conf;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	(void)rk;
	bench_produce_state_t *state = opaque;
	if (msg->err) {
		if (atomic_fetch_add(&state->failed, 1) == 0)
			state->first_error = msg->err;
	} else {
		atomic_fetch_add(&state->delivered, 1);
	}
	state->last_delivery_ns = now_ns();
}

static rd_kafka_t *new_producer(const bench_options_t *o, bench_produce_state_t *state)
{
	char errstr[512];
	rd_kafka_conf_t *conf = base_conf(o);
	conf_set_or_die(conf, "acks", o->acks);
	conf_set_or_die(conf, "enable.idempotence", o->idempotent ? "true" : "false");
	conf_set_or_die(conf, "compression.codec", o->compression);
	conf_set_long(conf, "linger.ms", o->linger_ms);
	conf_set_or_die(conf, "batch.num.messages", "1000000");
	conf_set_or_die(conf, "queue.buffering.max.messages", "2000000");
	conf_set_or_die(conf, "queue.buffering.max.kbytes", "2097151");
	conf_set_or_die(conf, "message.timeout.ms", "120000");
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_opaque(conf, state);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!rk) {
		fprintf(stderr, "bench: producer: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		exit(1);
	}
	return rk;
}

/* Looks the topic up: with an all-topics request (which never creates
 * topics), or with a request for this topic alone when allow_create (which a
 * broker with auto.create.topics.enable answers by creating it). Returns its
 * partition count when it exists and every partition has a leader, 0 when it
 * does not exist yet or is not ready, -1 on a metadata failure. */
static int topic_ready_partitions(rd_kafka_t *rk, const char *topic, bool allow_create)
{
	const rd_kafka_metadata_t *md = NULL;
	rd_kafka_topic_t *rkt = allow_create ? rd_kafka_topic_new(rk, topic, NULL) : NULL;
	rd_kafka_resp_err_t err = rd_kafka_metadata(rk, allow_create ? 0 : 1, rkt, &md,
						    BENCH_METADATA_TIMEOUT_MS);
	if (rkt)
		rd_kafka_topic_destroy(rkt);
	if (err)
		return -1;
	int result = 0;
	for (int i = 0; i < md->topic_cnt; i++) {
		const rd_kafka_metadata_topic_t *t = &md->topics[i];
		if (strcmp(t->topic, topic) != 0 || t->err || t->partition_cnt == 0)
			continue;
		result = t->partition_cnt;
		for (int p = 0; p < t->partition_cnt; p++)
			if (t->partitions[p].err || t->partitions[p].leader < 0)
				result = 0;
	}
	rd_kafka_metadata_destroy(md);
	return result;
}

/* Sends CreateTopics; returns the topic's error (NO_ERROR or
 * TOPIC_ALREADY_EXISTS mean it exists), or the request's error. */
static rd_kafka_resp_err_t create_topic(rd_kafka_t *rk, const char *topic, int partitions)
{
	char errstr[512];
	rd_kafka_resp_err_t result = RD_KAFKA_RESP_ERR__TIMED_OUT;
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, errstr, sizeof errstr);
	if (!nt)
		return RD_KAFKA_RESP_ERR__INVALID_ARG;
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_request_timeout(opts, BENCH_ADMIN_TIMEOUT_MS, errstr, sizeof errstr);
	rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, BENCH_ADMIN_TIMEOUT_MS + 2000);
	if (ev) {
		result = rd_kafka_event_error(ev);
		const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
		size_t count = 0;
		const rd_kafka_topic_result_t **topics =
			res ? rd_kafka_CreateTopics_result_topics(res, &count) : NULL;
		if (!result && count == 1)
			result = rd_kafka_topic_result_error(topics[0]);
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
	return result;
}

/* Makes the topic exist with o->partitions partitions, all with a leader.
 * Exits on failure: measuring a topic of the wrong shape is worse than no
 * measurement. */
static void ensure_topic(rd_kafka_t *rk, const bench_options_t *o)
{
	int64_t deadline_ns = now_ns() + (int64_t)BENCH_TOPIC_READY_TIMEOUT_MS * 1000000;
	bool create_tried = false;
	bool auto_create = false;
	while (now_ns() < deadline_ns) {
		int partitions = topic_ready_partitions(rk, o->topic, auto_create);
		if (partitions == o->partitions)
			return;
		if (partitions > 0) {
			fprintf(stderr, "bench: topic %s has %d partitions, wanted %ld\n", o->topic,
				partitions, o->partitions);
			exit(1);
		}
		if (!create_tried) {
			create_tried = true;
			rd_kafka_resp_err_t err = create_topic(rk, o->topic, (int)o->partitions);
			if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
				fprintf(stderr, "bench: CreateTopics %s: %s; relying on auto-creation\n",
					o->topic, rd_kafka_err2str(err));
				auto_create = true;
			}
			continue;
		}
		usleep(50 * 1000);
	}
	fprintf(stderr, "bench: topic %s not ready with %ld partitions after %d ms\n", o->topic,
		o->partitions, BENCH_TOPIC_READY_TIMEOUT_MS);
	exit(1);
}

/* A pool of upper-case letters, half of its 64-byte chunks copies of a few
 * templates and half random, so that lz4 finds some, not all, repetition
 * (roughly like text). Values are slices of it. Caller frees. */
static char *payload_pool_new(void)
{
	char *pool = malloc(BENCH_PAYLOAD_POOL_BYTES);
	if (!pool) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	uint64_t x = 0x9E3779B97F4A7C15ull;
	char templates[BENCH_PAYLOAD_TEMPLATES][BENCH_PAYLOAD_CHUNK_BYTES];
	for (int t = 0; t < BENCH_PAYLOAD_TEMPLATES; t++)
		for (int j = 0; j < BENCH_PAYLOAD_CHUNK_BYTES; j++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			templates[t][j] = (char)('A' + x % 26);
		}
	for (size_t off = 0; off < BENCH_PAYLOAD_POOL_BYTES; off += BENCH_PAYLOAD_CHUNK_BYTES) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (x & 1) {
			memcpy(pool + off, templates[(x >> 1) % BENCH_PAYLOAD_TEMPLATES],
			       BENCH_PAYLOAD_CHUNK_BYTES);
			continue;
		}
		for (int j = 0; j < BENCH_PAYLOAD_CHUNK_BYTES; j++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			pool[off + j] = (char)('A' + x % 26);
		}
	}
	return pool;
}

static void print_common(const bench_options_t *o)
{
	printf("mode=%s broker=%s topic=%s partitions=%ld value_bytes=%ld", o->mode_name, o->label,
	       o->topic, o->partitions, o->value_bytes);
}

static int run_produce(const bench_options_t *o)
{
	bench_produce_state_t state = {0};
	rd_kafka_t *rk = new_producer(o, &state);
	ensure_topic(rk, o);
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
	char *pool = payload_pool_new();
	size_t slice_span = BENCH_PAYLOAD_POOL_BYTES - (size_t)o->value_bytes;

	int64_t start_ns = now_ns();
	for (long i = 0; i < o->records; i++) {
		/* A stride that is not a multiple of the chunk size, so consecutive
		 * values differ. */
		char *value = pool + ((size_t)i * 4099) % (slice_span + 1);
		int32_t partition = o->even_partitions
			? (int32_t)((int64_t)i * o->partitions / o->records) : RD_KAFKA_PARTITION_UA;
		while (rd_kafka_produce(rkt, partition, 0, value, (size_t)o->value_bytes,
					NULL, 0, NULL) != 0) {
			rd_kafka_resp_err_t err = rd_kafka_last_error();
			if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
				fprintf(stderr, "bench: produce: %s\n", rd_kafka_err2str(err));
				return 1;
			}
			rd_kafka_poll(rk, 5);
		}
		if (i % BENCH_POLL_EVERY_RECORDS == 0)
			rd_kafka_poll(rk, 0);
	}
	rd_kafka_resp_err_t flush_err = rd_kafka_flush(rk, BENCH_FLUSH_TIMEOUT_MS);
	long delivered = atomic_load(&state.delivered);
	long failed = atomic_load(&state.failed);
	double elapsed_s = (double)(state.last_delivery_ns - start_ns) / 1e9;
	if (elapsed_s <= 0)
		elapsed_s = 1e-9;

	print_common(o);
	printf(" records=%ld acks=%s idempotent=%d compression=%s linger_ms=%ld delivered=%ld"
	       " failed=%ld elapsed_s=%.3f records_per_s=%.0f mb_per_s=%.2f",
	       o->records, o->acks, o->idempotent, o->compression, o->linger_ms, delivered, failed,
	       elapsed_s, (double)delivered / elapsed_s,
	       (double)delivered * (double)o->value_bytes / 1e6 / elapsed_s);
	if (failed)
		printf(" first_error=%s", rd_kafka_err2name(state.first_error));
	if (flush_err)
		printf(" flush_error=%s", rd_kafka_err2name(flush_err));
	printf("\n");
	fflush(stdout);

	free(pool);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	return delivered == o->records ? 0 : 1;
}

static rd_kafka_t *new_consumer(const bench_options_t *o, const char *fetch_wait_max_ms)
{
	char errstr[512];
	rd_kafka_conf_t *conf = base_conf(o);
	/* The consumer type needs a group.id even with assign(); nothing is
	 * committed. */
	conf_set_or_die(conf, "group.id", "strata-bench");
	conf_set_or_die(conf, "enable.auto.commit", "false");
	conf_set_or_die(conf, "enable.auto.offset.store", "false");
	conf_set_or_die(conf, "auto.offset.reset", "earliest");
	if (fetch_wait_max_ms)
		conf_set_or_die(conf, "fetch.wait.max.ms", fetch_wait_max_ms);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
	if (!rk) {
		fprintf(stderr, "bench: consumer: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		exit(1);
	}
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

static void assign_from_beginning(rd_kafka_t *rk, const bench_options_t *o)
{
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new((int)o->partitions);
	for (int p = 0; p < o->partitions; p++)
		rd_kafka_topic_partition_list_add(parts, o->topic, p)->offset = 0;
	rd_kafka_resp_err_t err = rd_kafka_assign(rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	if (err) {
		fprintf(stderr, "bench: assign: %s\n", rd_kafka_err2str(err));
		exit(1);
	}
}

/* Waits (bounded) until the group coordinator answers an OffsetFetch. A
 * failure only means the first fetches may be slower: not fatal. */
static void warm_group_coordinator(rd_kafka_t *rk, const bench_options_t *o)
{
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(parts, o->topic, 0);
	rd_kafka_resp_err_t err = rd_kafka_committed(rk, parts, BENCH_ADMIN_TIMEOUT_MS);
	if (err)
		fprintf(stderr, "bench: committed(): %s (coordinator not warmed up)\n",
			rd_kafka_err2str(err));
	rd_kafka_topic_partition_list_destroy(parts);
}

static int run_consume(const bench_options_t *o)
{
	rd_kafka_t *rk = new_consumer(o, NULL);
	ensure_topic(rk, o);
	warm_group_coordinator(rk, o);
	rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
	rd_kafka_message_t *batch[BENCH_CONSUME_BATCH_MAX];
	long received = 0, errors = 0;
	int64_t value_bytes = 0;
	rd_kafka_resp_err_t first_error = 0;

	int64_t start_ns = now_ns();
	int64_t last_progress_ns = start_ns;
	int64_t first_record_ns = 0;
	assign_from_beginning(rk, o);
	while (received < o->records) {
		ssize_t n = rd_kafka_consume_batch_queue(q, 100, batch, BENCH_CONSUME_BATCH_MAX);
		int64_t now = now_ns();
		if (n > 0) {
			last_progress_ns = now;
			if (!first_record_ns)
				first_record_ns = now;
		}
		else if (now - last_progress_ns > (int64_t)BENCH_CONSUME_IDLE_TIMEOUT_MS * 1000000)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (batch[i]->err) {
				if (batch[i]->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && !errors++)
					first_error = batch[i]->err;
			} else {
				received++;
				value_bytes += (int64_t)batch[i]->len;
			}
			rd_kafka_message_destroy(batch[i]);
		}
		if (errors)
			break;
	}
	int64_t end_ns = received == o->records ? now_ns() : last_progress_ns;
	double elapsed_s = (double)(end_ns - start_ns) / 1e9;

	print_common(o);
	/* The headline rate includes the start (offset lookup, first fetch);
	 * first_record_ms says how much of elapsed_s that was. */
	printf(" records=%ld received=%ld errors=%ld elapsed_s=%.3f first_record_ms=%.1f"
	       " records_per_s=%.0f mb_per_s=%.2f",
	       o->records, received, errors, elapsed_s,
	       first_record_ns ? (double)(first_record_ns - start_ns) / 1e6 : NAN,
	       (double)received / elapsed_s, (double)value_bytes / 1e6 / elapsed_s);
	if (errors)
		printf(" first_error=%s", rd_kafka_err2name(first_error));
	printf("\n");
	fflush(stdout);

	rd_kafka_queue_destroy(q);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return received == o->records ? 0 : 1;
}

/* Latency mode: the consumer thread fills latency_ns[seq - warmup_records]
 * for every measured record; the main thread produces. */
typedef struct bench_latency_state {
	const bench_options_t *options;
	rd_kafka_t *consumer;
	int64_t *latency_ns;
	uint8_t *seen; /* one flag per record, to count duplicates */
	long warmup_records;
	long total_records;
	atomic_long received; /* distinct records, warm-up included */
	atomic_long duplicates;
	atomic_long errors;
	atomic_bool stop;
} bench_latency_state_t;

static void *latency_consumer_main(void *arg)
{
	bench_latency_state_t *s = arg;
	while (!atomic_load(&s->stop) && atomic_load(&s->received) < s->total_records) {
		rd_kafka_message_t *msg = rd_kafka_consumer_poll(s->consumer, 50);
		if (!msg)
			continue;
		int64_t receive_ns = now_ns();
		if (msg->err) {
			if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				atomic_fetch_add(&s->errors, 1);
		} else if (msg->len >= BENCH_VALUE_BYTES_MIN_LATENCY) {
			int64_t send_ns;
			int64_t seq;
			memcpy(&send_ns, msg->payload, sizeof send_ns);
			memcpy(&seq, (const char *)msg->payload + sizeof send_ns, sizeof seq);
			if (seq >= 0 && seq < s->total_records) {
				if (s->seen[seq]) {
					atomic_fetch_add(&s->duplicates, 1);
				} else {
					s->seen[seq] = 1;
					if (seq >= s->warmup_records)
						s->latency_ns[seq - s->warmup_records] = receive_ns - send_ns;
					atomic_fetch_add(&s->received, 1);
				}
			}
		}
		rd_kafka_message_destroy(msg);
	}
	return NULL;
}

static int compare_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double percentile_ms(const int64_t *sorted, long count, double q)
{
	if (count == 0)
		return NAN;
	long rank = (long)ceil(q * (double)count);
	if (rank < 1)
		rank = 1;
	return (double)sorted[rank - 1] / 1e6;
}

static int run_latency(const bench_options_t *o)
{
	bench_latency_state_t s = {.options = o};
	s.warmup_records = o->rate_records_per_s * o->warmup_s;
	long measured_records = o->rate_records_per_s * o->duration_s;
	s.total_records = s.warmup_records + measured_records;
	s.latency_ns = calloc((size_t)measured_records, sizeof *s.latency_ns);
	s.seen = calloc((size_t)s.total_records, 1);
	char *value = calloc(1, (size_t)o->value_bytes);
	if (!s.latency_ns || !s.seen || !value) {
		fprintf(stderr, "bench: out of memory\n");
		return 1;
	}
	for (long i = 0; i < measured_records; i++)
		s.latency_ns[i] = -1;

	bench_produce_state_t pstate = {0};
	rd_kafka_t *producer = new_producer(o, &pstate);
	ensure_topic(producer, o);
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(producer, o->topic, NULL);
	s.consumer = new_consumer(o, NULL); /* default fetch.wait.max.ms (500) */
	assign_from_beginning(s.consumer, o);
	pthread_t consumer_thread;
	if (pthread_create(&consumer_thread, NULL, latency_consumer_main, &s) != 0) {
		fprintf(stderr, "bench: pthread_create failed\n");
		return 1;
	}

	/* Records are due at start + i / rate; whatever is due is sent at once
	 * (a late loop catches up), each stamped with its actual send time. */
	int64_t start_ns = now_ns();
	long sent = 0;
	while (sent < s.total_records) {
		int64_t now = now_ns();
		long due = (long)((double)(now - start_ns) * (double)o->rate_records_per_s / 1e9) + 1;
		if (due > s.total_records)
			due = s.total_records;
		for (; sent < due; sent++) {
			int64_t send_ns = now_ns();
			int64_t seq = sent;
			memcpy(value, &send_ns, sizeof send_ns);
			memcpy(value + sizeof send_ns, &seq, sizeof seq);
			while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, value,
						(size_t)o->value_bytes, NULL, 0, NULL) != 0) {
				if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
					fprintf(stderr, "bench: produce: %s\n",
						rd_kafka_err2str(rd_kafka_last_error()));
					return 1;
				}
				rd_kafka_poll(producer, 1);
			}
		}
		rd_kafka_poll(producer, 0);
		int64_t next_ns = start_ns + (int64_t)((double)sent * 1e9 / (double)o->rate_records_per_s);
		struct timespec until = {.tv_sec = next_ns / 1000000000, .tv_nsec = next_ns % 1000000000};
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
	}
	int64_t produce_end_ns = now_ns();
	rd_kafka_flush(producer, BENCH_FLUSH_TIMEOUT_MS);

	int64_t drain_deadline_ns = now_ns() + (int64_t)BENCH_LATENCY_DRAIN_TIMEOUT_MS * 1000000;
	while (atomic_load(&s.received) < s.total_records && now_ns() < drain_deadline_ns)
		usleep(10 * 1000);
	atomic_store(&s.stop, true);
	pthread_join(consumer_thread, NULL);

	long measured = 0;
	for (long i = 0; i < measured_records; i++)
		if (s.latency_ns[i] >= 0)
			s.latency_ns[measured++] = s.latency_ns[i];
	qsort(s.latency_ns, (size_t)measured, sizeof *s.latency_ns, compare_int64);
	double sum_ms = 0;
	for (long i = 0; i < measured; i++)
		sum_ms += (double)s.latency_ns[i] / 1e6;
	double actual_rate = (double)s.total_records / ((double)(produce_end_ns - start_ns) / 1e9);
	long missing = measured_records - measured;

	print_common(o);
	printf(" acks=%s idempotent=%d linger_ms=%ld rate=%ld actual_rate=%.0f seconds=%ld"
	       " warmup_s=%ld measured=%ld missing=%ld duplicates=%ld failed=%ld consume_errors=%ld"
	       " mean_ms=%.3f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f\n",
	       o->acks, o->idempotent, o->linger_ms, o->rate_records_per_s, actual_rate,
	       o->duration_s, o->warmup_s, measured, missing, atomic_load(&s.duplicates),
	       atomic_load(&pstate.failed), atomic_load(&s.errors),
	       measured ? sum_ms / (double)measured : NAN, percentile_ms(s.latency_ns, measured, 0.50),
	       percentile_ms(s.latency_ns, measured, 0.99), percentile_ms(s.latency_ns, measured, 0.999),
	       measured ? (double)s.latency_ns[measured - 1] / 1e6 : NAN);
	fflush(stdout);

	rd_kafka_consumer_close(s.consumer);
	rd_kafka_destroy(s.consumer);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(producer);
	free(value);
	free(s.seen);
	free(s.latency_ns);
	return missing == 0 ? 0 : 1;
}

static int run_topic(const bench_options_t *o)
{
	bench_produce_state_t state = {0};
	rd_kafka_t *rk = new_producer(o, &state);
	ensure_topic(rk, o);
	print_common(o);
	printf(" ready=1\n");
	fflush(stdout);
	rd_kafka_destroy(rk);
	return 0;
}

int main(int argc, char **argv)
{
	bench_options_t o;
	parse_options(argc, argv, &o);
	/* glibc's defaults hand freed request buffers and message memory back
	 * to the kernel and fault them in again moments later: on this VM that
	 * was 33,000 page faults and half of the client's CPU for 1,000,000
	 * records, and whether a run hit it decided its speed more than the
	 * broker did. Keeping freed memory makes the client measure brokers. */
	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
	mallopt(M_TOP_PAD, 16 * 1024 * 1024);
	/* Default SIGALRM action ends the process: the bound on a stuck run. */
	alarm((unsigned)o.timeout_s);
	switch (o.mode) {
	case BENCH_MODE_PRODUCE: return run_produce(&o);
	case BENCH_MODE_CONSUME: return run_consume(&o);
	case BENCH_MODE_LATENCY: return run_latency(&o);
	case BENCH_MODE_TOPIC: return run_topic(&o);
	}
	return 2;
}
