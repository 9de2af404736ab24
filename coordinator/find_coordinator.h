/*
 * FindCoordinator, a router by key type: each coordinator registers the key
 * type it answers for (0 group, 1 transaction; 2 share groups later) and
 * what must exist before it can coordinate (its internal topic). Every
 * coordinator of a single node is that node; with a cluster the router asks
 * who leads the key's partition of the coordinator's topic.
 */
#ifndef ST_COORDINATOR_FIND_COORDINATOR_H
#define ST_COORDINATOR_FIND_COORDINATOR_H

#include "broker/broker.h"

int st_handle_find_coordinator(st_broker_t *b, st_request_t *req);

#endif
