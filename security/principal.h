/*
 * Who a connection is, as Kafka's DefaultKafkaPrincipalBuilder decides it:
 * "User:ANONYMOUS" on PLAINTEXT (and on SSL without a client certificate),
 * "User:<authorization id>" after SASL (security/sasl.h st_sasl_principal),
 * and on SSL with a client certificate "User:<name>" where the name comes
 * from the certificate's subject DN (RFC 2253, as Java's
 * X500Principal.getName() writes it; security/tls.h produces it) through
 * ssl.principal.mapping.rules (Kafka's SslPrincipalMapper):
 *
 *     RULE:<pattern>/<replacement>/[L|U], ..., DEFAULT
 *
 * The rules are tried in order; the first whose pattern matches the whole
 * DN gives the name: the DN with every match of the pattern replaced
 * (Java's String.replaceAll, $1.. for groups, \ to escape), lower- or
 * upper-cased with /L or /U. DEFAULT gives the DN itself. A DN no rule
 * matches has no principal: Kafka fails the connection's authentication.
 * Kafka's own rule-splitting expression is run (security/regex.h) so a
 * rules string splits, and fails, exactly where Kafka's does.
 *
 * The mapper is immutable after st_principal_mapper_new: one per listener,
 * built at start and on a dynamic config change, shared by connections.
 */
#ifndef ST_SECURITY_PRINCIPAL_H
#define ST_SECURITY_PRINCIPAL_H

#include <stdbool.h>
#include <stddef.h>

#include "security/security_limits.h"

#define ST_PRINCIPAL_ANONYMOUS "User:ANONYMOUS"
/* Kafka's default for ssl.principal.mapping.rules. */
#define ST_PRINCIPAL_DEFAULT_RULES "DEFAULT"

typedef struct st_principal_mapper st_principal_mapper_t;

/* Parses ssl.principal.mapping.rules (NULL: DEFAULT). NULL with Kafka's
 * kind of message in `error` ("Invalid rule: ...") for a rules string
 * Kafka would refuse, or a pattern the regex engine does not support.
 * Caller frees with st_principal_mapper_free. */
st_principal_mapper_t *st_principal_mapper_new(const char *rules, char *error, size_t cap);
void st_principal_mapper_free(st_principal_mapper_t *m);
int st_principal_mapper_rule_count(const st_principal_mapper_t *m);

/* Maps a DN to a name (NUL-terminated in out, cap bytes). Returns 0;
 * ST_ERR_NOT_FOUND when no rule applies ("No rules apply to <dn>");
 * ST_ERR_LIMIT when the result does not fit, or a pattern ran out of its
 * step budget on this DN (logged as such by the caller); INVALID_REQUEST
 * when a replacement names a group that does not exist (Java throws). */
int st_principal_mapper_map(const st_principal_mapper_t *m, const char *dn, char *out, size_t cap);

/* "User:" + the mapped name of a certificate subject, or ANONYMOUS for a
 * connection without a client certificate (dn NULL). Same returns. */
int st_principal_for_ssl(const st_principal_mapper_t *m, const char *dn, char *out, size_t cap);

#endif
