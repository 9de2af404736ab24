/* mock_cluster: librdkafka's built-in in-memory mock cluster, as the
 * reference broker for the benchmarks in this directory.
 *
 *   mock_cluster [TOPIC:PARTITIONS ...]
 *
 * Starts a one-broker mock cluster (rd_kafka_mock_cluster_new, librdkafka's
 * experimental rdkafka_mock.h API), creates each topic given with its
 * partition count (replication factor 1), prints the bootstrap address as
 * the first line on stdout and runs until SIGTERM/SIGINT or EOF on stdin,
 * whichever comes first. The cluster lives in threads of this process:
 * it keeps every record in memory and never touches a disk.
 *
 * Exit status 0 after a clean shutdown, 1 on a usage or setup error. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	MOCK_BROKERS = 1,
	MOCK_REPLICATION_FACTOR = 1,
	MOCK_PARTITIONS_MAX = 10000,
	MOCK_TOPIC_NAME_MAX_BYTES = 249, /* Kafka's topic name limit */
	MOCK_WAIT_SLICE_MS = 200,
};

static volatile sig_atomic_t mock_stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	mock_stop_requested = 1;
}

/* Splits "name:partitions" into name (copied into name_out) and the count.
 * Returns 0 on success, -1 on a malformed argument. */
static int parse_topic_arg(const char *arg, char *name_out, size_t name_out_bytes,
			   int *partitions_out)
{
	const char *colon = strrchr(arg, ':');
	if (!colon || colon == arg)
		return -1;
	size_t name_bytes = (size_t)(colon - arg);
	if (name_bytes >= name_out_bytes)
		return -1;
	char *end = NULL;
	errno = 0;
	long partitions = strtol(colon + 1, &end, 10);
	if (errno || !end || *end != '\0' || partitions < 1 || partitions > MOCK_PARTITIONS_MAX)
		return -1;
	memcpy(name_out, arg, name_bytes);
	name_out[name_bytes] = '\0';
	*partitions_out = (int)partitions;
	return 0;
}

/* Waits for a stop signal or EOF (or an error) on stdin. */
static void wait_for_stop(void)
{
	bool stdin_open = true;
	while (!mock_stop_requested) {
		if (!stdin_open) {
			usleep(MOCK_WAIT_SLICE_MS * 1000);
			continue;
		}
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		int n = poll(&pfd, 1, MOCK_WAIT_SLICE_MS);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (n == 0)
			continue;
		if (pfd.revents & (POLLERR | POLLNVAL))
			stdin_open = false; /* no usable stdin (e.g. closed): signals only */
		char discard[256];
		ssize_t got = read(STDIN_FILENO, discard, sizeof discard);
		if (got == 0)
			return; /* EOF: the parent went away or closed our stdin */
		if (got < 0 && errno != EINTR && errno != EAGAIN)
			stdin_open = false;
	}
}

int main(int argc, char **argv)
{
	int status = 1;
	char errstr[512];

	for (int i = 1; i < argc; i++) {
		char name[MOCK_TOPIC_NAME_MAX_BYTES + 1];
		int partitions;
		if (parse_topic_arg(argv[i], name, sizeof name, &partitions) != 0) {
			fprintf(stderr, "usage: %s [TOPIC:PARTITIONS ...] (bad argument '%s')\n",
				argv[0], argv[i]);
			return 1;
		}
	}

	struct sigaction sa = {.sa_handler = on_stop_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* The handle is only the cluster's owner (librdkafka needs one for its
	 * bookkeeping); it never produces. */
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "mock_cluster: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!rk) {
		fprintf(stderr, "mock_cluster: rd_kafka_new: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return 1;
	}

	rd_kafka_mock_cluster_t *cluster = rd_kafka_mock_cluster_new(rk, MOCK_BROKERS);
	if (!cluster) {
		fprintf(stderr, "mock_cluster: rd_kafka_mock_cluster_new failed\n");
		goto err_destroy_handle;
	}

	for (int i = 1; i < argc; i++) {
		char name[MOCK_TOPIC_NAME_MAX_BYTES + 1];
		int partitions = 0;
		(void)parse_topic_arg(argv[i], name, sizeof name, &partitions); /* checked above */
		rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster, name, partitions,
								     MOCK_REPLICATION_FACTOR);
		if (err) {
			fprintf(stderr, "mock_cluster: create topic %s: %s\n", name,
				rd_kafka_err2str(err));
			goto err_destroy_cluster;
		}
	}

	printf("%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
	fflush(stdout);

	wait_for_stop();
	status = 0;

err_destroy_cluster:
	rd_kafka_mock_cluster_destroy(cluster);
err_destroy_handle:
	rd_kafka_destroy(rk);
	return status;
}
