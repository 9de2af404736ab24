/* The node (node.c): starts and stops every room of one strata-server. */
#ifndef ST_SERVER_NODE_H
#define ST_SERVER_NODE_H

#include "broker/broker.h"

/* Starts the node on a zeroed `b`. On failure everything it set up is
 * already undone (do not call st_broker_stop) and the reason is logged; a
 * start that fails before it opens the logs changes nothing on disk. */
int st_broker_start(st_broker_t *b, st_config_t *config);
/* Stops a started node: closes connections, then every log cleanly, then
 * releases the log-dir locks. */
void st_broker_stop(st_broker_t *b);

#endif
