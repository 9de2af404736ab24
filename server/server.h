/* Transitional (issue 11): the old umbrella header, for files not yet moved
 * to their room. Include broker/broker.h or net/network.h instead. */
#ifndef ST_SERVER_SERVER_H
#define ST_SERVER_SERVER_H
#include "broker/broker.h"
#endif
