/*
 * The admin API handlers (the controller's side of the request table):
 * CreateTopics, DeleteTopics, CreatePartitions (handle_topics.c),
 * DescribeConfigs, AlterConfigs, IncrementalAlterConfigs
 * (handle_configs.c), DescribeCluster, DescribeLogDirs, DescribeProducers
 * (handle_describe.c).
 *
 * Each decodes its request, answers it into the request arena and responds
 * with st_request_respond; it returns 0, or ST_ERR_DECODE when the request
 * does not decode (the dispatcher closes the connection). Topic and config
 * changes go through the broker's metadata log; validate_only requests
 * change nothing.
 */
#ifndef ST_CONTROLLER_ADMIN_H
#define ST_CONTROLLER_ADMIN_H

#include "broker/broker.h"

int st_handle_create_topics(st_broker_t *b, st_request_t *req);
int st_handle_delete_topics(st_broker_t *b, st_request_t *req);
int st_handle_create_partitions(st_broker_t *b, st_request_t *req);
int st_handle_describe_configs(st_broker_t *b, st_request_t *req);
int st_handle_alter_configs(st_broker_t *b, st_request_t *req);
int st_handle_incremental_alter_configs(st_broker_t *b, st_request_t *req);
int st_handle_describe_cluster(st_broker_t *b, st_request_t *req);
int st_handle_describe_log_dirs(st_broker_t *b, st_request_t *req);
int st_handle_describe_producers(st_broker_t *b, st_request_t *req);

#endif
