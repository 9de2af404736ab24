/* The acceptor (acceptor.c): Kafka's connection quotas at accept. */
#ifndef ST_NET_ACCEPTOR_H
#define ST_NET_ACCEPTOR_H

#include "net/net.h"

/* Starts accepting on `listen_fd` (net->listener's socket) within
 * max.connections, listener.name.<listener>.max.connections,
 * max.connection.creation.rate (both forms) and max.connections.per.ip(.overrides);
 * accepted sockets go to net->adopt. ST_ERR_INVALID_CONFIG for unusable
 * overrides. */
int st_acceptor_start(st_net_t *net, int listen_fd);
void st_acceptor_stop(st_net_t *net);
/* A connection closed: a listener paused at a connection limit resumes. */
void st_acceptor_connection_closed(st_net_t *net);

#endif
