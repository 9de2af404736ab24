/* librdkafka's C API on the group edge cases that confluent-kafka 1.7
 * cannot reach (it has no offset metadata): commits offset metadata that
 * holds a NUL byte and reads it back with rd_kafka_committed (librdkafka
 * copies fetched metadata with strndup, so it keeps the size but zeroes
 * everything after the first NUL, whichever broker answers), and commits
 * to partitions that do not exist. Prints one line per fact for
 * test_group_edges.py to assert; exits non-zero when a call fails.
 *
 *   rdkafka_commit BOOTSTRAP TOPIC GROUP
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char metadata[] = "Hello\0world!"; /* 12 bytes, one NUL */
#define METADATA_LEN 12

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets, void *opaque) {
    (void)rk;
    (void)opaque;
    printf("commit: %s\n", rd_kafka_err2name(err));
    for (int i = 0; offsets && i < offsets->cnt; i++)
        printf("commit %s-%d: %s\n", offsets->elems[i].topic, offsets->elems[i].partition,
               rd_kafka_err2name(offsets->elems[i].err));
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s BOOTSTRAP TOPIC GROUP\n", argv[0]);
        return 2;
    }
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "group.id", argv[3], errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "conf: %s\n", errstr);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "rd_kafka_new: %s\n", errstr);
        return 1;
    }
    /* One commit per partition: librdkafka stamps a commit's error on every
     * partition of its list, so only single-partition lists show each
     * partition's own answer. */
    const char *topics[] = {argv[2], argv[2], "no-such-topic"};
    const int32_t partitions[] = {0, 99, 0};
    const int64_t offsets[] = {5, 1, 3};
    for (int i = 0; i < 3; i++) {
        rd_kafka_topic_partition_list_t *commit = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_add(commit, topics[i], partitions[i]);
        tp->offset = offsets[i];
        if (i == 0) {
            tp->metadata = malloc(METADATA_LEN);
            memcpy(tp->metadata, metadata, METADATA_LEN);
            tp->metadata_size = METADATA_LEN;
        }
        /* No queue: synchronous, and the callback sees the partition's error. */
        rd_kafka_resp_err_t err = rd_kafka_commit_queue(rk, commit, NULL, on_commit, NULL);
        printf("commit_queue %s-%d: %s\n", topics[i], partitions[i], rd_kafka_err2name(err));
        rd_kafka_topic_partition_list_destroy(commit);
    }

    rd_kafka_topic_partition_list_t *read = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(read, argv[2], 0);
    rd_kafka_resp_err_t err = rd_kafka_committed(rk, read, 10000);
    if (err) {
        fprintf(stderr, "committed: %s\n", rd_kafka_err2str(err));
        return 1;
    }
    rd_kafka_topic_partition_t *tp = &read->elems[0];
    printf("committed offset: %lld\n", (long long)tp->offset);
    printf("committed metadata: %zu bytes, %s\n", tp->metadata_size,
           tp->metadata_size == METADATA_LEN && memcmp(tp->metadata, metadata, METADATA_LEN) == 0 ? "equal" : "DIFFERENT");
    printf("committed metadata hex:");
    for (size_t i = 0; i < tp->metadata_size; i++) printf(" %02x", ((const unsigned char *)tp->metadata)[i]);
    printf("\n");
    rd_kafka_topic_partition_list_destroy(read);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return 0;
}
