#include "common/config.h" /* moved to common/ (issue 11); this forwarder goes at merge */
