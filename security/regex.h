/*
 * A small regular-expression engine with java.util.regex's semantics for
 * the subset that ssl.principal.mapping.rules use (and that Kafka's own
 * rule parser is written in): leftmost-first backtracking, so lazy
 * quantifiers and alternation order mean what they mean in Java.
 *
 * Supported: literals; "." (any byte but \n and \r); classes [a-z0-9_]
 * and [^...] with ranges and escapes; \d \D \w \W \s \S \t \n \r \f and
 * "\" before any non-alphanumeric char as that char; ^ and $ (Java's: $
 * also before a final line terminator); groups (...) and (?:...);
 * alternation |; * + ? {n} {n,} {n,m} and their lazy forms (*? etc.);
 * (?i) at the very start for case-insensitive ASCII. Anything else
 * (lookaround, backreferences, possessive quantifiers, class
 * intersections, named groups, \b, \p{..}) fails to compile with a
 * message, so a rule never silently means something else than in Kafka.
 * It works on bytes: "." matches one byte of a multi-byte UTF-8 char
 * where Java matches one char; rules written for ASCII DNs are unaffected.
 *
 * Every match is bounded: past ST_REGEX_STEPS_MAX steps it gives up and
 * says so (ST_REGEX_BUDGET), so no pattern can stall the event loop. An
 * iteration of a loop that matched nothing ends the loop and goes on with
 * what follows (Java's Loop node does the same), so (a*)* terminates.
 *
 * Checked against java.util.regex on 8,000 random patterns and inputs
 * (a throwaway harness, not in CI: Debian's CI image has no JDK): the same
 * match or no match and the same whole-match span everywhere; group spans
 * differ in 0.15% of them, all where Java keeps the capture of an attempt
 * it backtracked out of (a failed alternative, an undone iteration of a
 * nested loop) and this engine, like Perl, forgets it.
 */
#ifndef ST_SECURITY_REGEX_H
#define ST_SECURITY_REGEX_H

#include <stdbool.h>
#include <stddef.h>

#include "security/security_limits.h"

typedef struct st_regex st_regex_t;

/* Compiles `pattern` (len bytes). NULL with a reason in `error` (cap bytes)
 * when it is invalid, unsupported, too long or too complex. Caller frees
 * with st_regex_free. */
st_regex_t *st_regex_compile(const char *pattern, size_t len, char *error, size_t cap);
void st_regex_free(st_regex_t *re);
/* Capturing groups in the pattern (group 0, the whole match, not counted). */
int st_regex_group_count(const st_regex_t *re);

typedef enum st_regex_mode {
    ST_REGEX_MATCHES,     /* the whole input (Matcher.matches) */
    ST_REGEX_LOOKING_AT,  /* a prefix of the input (Matcher.lookingAt) */
    ST_REGEX_FIND,        /* anywhere at or after `from` (Matcher.find) */
} st_regex_mode_t;

typedef enum st_regex_result {
    ST_REGEX_NO_MATCH = 0,
    ST_REGEX_MATCH = 1,
    ST_REGEX_BUDGET = -1, /* gave up after ST_REGEX_STEPS_MAX steps */
} st_regex_result_t;

/* Group spans: starts[g], ends[g] for g in 0..group_count; -1 for a group
 * that took no part in the match. */
typedef struct st_regex_match {
    long starts[ST_REGEX_GROUPS_MAX + 1];
    long ends[ST_REGEX_GROUPS_MAX + 1];
} st_regex_match_t;

st_regex_result_t st_regex_exec(const st_regex_t *re, const char *s, size_t len, size_t from, st_regex_mode_t mode,
                                st_regex_match_t *m);

#endif
