#include "security/authorizer.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "security/security_limits.h"

/* --- names --- */

const char *st_acl_resource_type_name(int8_t type) {
    static const char *const names[] = {"UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID",
                                        "DELEGATION_TOKEN", "USER"};
    return type >= 0 && type <= 7 ? names[type] : "UNKNOWN";
}

const char *st_acl_pattern_type_name(int8_t type) {
    static const char *const names[] = {"UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED"};
    return type >= 0 && type <= 4 ? names[type] : "UNKNOWN";
}

const char *st_acl_operation_name(int8_t operation) {
    static const char *const names[] = {"Unknown",  "Any",           "All",          "Read",
                                        "Write",    "Create",        "Delete",       "Alter",
                                        "Describe", "ClusterAction", "DescribeConfigs", "AlterConfigs",
                                        "IdempotentWrite", "CreateTokens", "DescribeTokens"};
    return operation >= 0 && operation <= 14 ? names[operation] : "Unknown";
}

const char *st_acl_permission_name(int8_t permission) {
    static const char *const names[] = {"Unknown", "Any", "Deny", "Allow"};
    return permission >= 0 && permission <= 3 ? names[permission] : "Unknown";
}

/* --- strings --- */

static bool str_eq(st_str_t a, st_str_t b) {
    return a.len == b.len && (a.len <= 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
}

static bool str_eq_c(st_str_t a, const char *c) {
    size_t n = strlen(c);
    return a.len >= 0 && (size_t)a.len == n && memcmp(a.ptr, c, n) == 0;
}

/* Byte order (Java compares UTF-16 units; for the prefix walk only the
 * property "a prefix sorts before its extensions" matters, which both have). */
static int str_cmp(st_str_t a, st_str_t b) {
    size_t n = (size_t)(a.len < b.len ? a.len : b.len);
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c != 0) return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

static bool str_starts_with(st_str_t s, st_str_t prefix) {
    return prefix.len <= s.len && (prefix.len == 0 || memcmp(s.ptr, prefix.ptr, (size_t)prefix.len) == 0);
}

static size_t common_prefix(st_str_t a, st_str_t b) {
    size_t i = 0;
    while (i < (size_t)a.len && i < (size_t)b.len && a.ptr[i] == b.ptr[i]) i++;
    return i;
}

/* --- validation and filters --- */

int st_acl_binding_validate(const st_acl_binding_t *b, const char **message) {
    if (b->resource_type < ST_ACL_RESOURCE_TOPIC || b->resource_type > ST_ACL_RESOURCE_USER) {
        *message = "Invalid resourceType";
        return ST_ERR_INVALID_REQUEST;
    }
    if (b->pattern_type != ST_ACL_PATTERN_LITERAL && b->pattern_type != ST_ACL_PATTERN_PREFIXED) {
        *message = "Invalid patternType";
        return ST_ERR_INVALID_REQUEST;
    }
    if (b->operation < ST_ACL_OP_ALL || b->operation > ST_ACL_OP_DESCRIBE_TOKENS) {
        *message = "Invalid operation";
        return ST_ERR_INVALID_REQUEST;
    }
    if (b->permission != ST_ACL_PERMISSION_DENY && b->permission != ST_ACL_PERMISSION_ALLOW) {
        *message = "Invalid permissionType";
        return ST_ERR_INVALID_REQUEST;
    }
    if (b->resource_name.len <= 0) {
        *message = "Resource name should not be empty";
        return ST_ERR_INVALID_REQUEST;
    }
    if (b->resource_type == ST_ACL_RESOURCE_CLUSTER && !str_eq_c(b->resource_name, ST_ACL_CLUSTER_NAME)) {
        *message = "The only valid name for the CLUSTER resource is " ST_ACL_CLUSTER_NAME;
        return ST_ERR_INVALID_REQUEST;
    }
    if (b->principal.len <= 0 || !memchr(b->principal.ptr, ':', (size_t)b->principal.len)) {
        *message = "Could not parse principal (no colon is present separating the principal type from the "
                   "principal name)";
        return ST_ERR_INVALID_REQUEST;
    }
    if (b->host.len <= 0) {
        *message = "Invalid host";
        return ST_ERR_INVALID_REQUEST;
    }
    if (b->resource_name.len > ST_ACL_STRING_BYTES_MAX || b->principal.len > ST_ACL_STRING_BYTES_MAX ||
        b->host.len > ST_ACL_STRING_BYTES_MAX) {
        *message = "ACL field too long";
        return ST_ERR_INVALID_REQUEST;
    }
    *message = NULL;
    return 0;
}

st_acl_filter_t st_acl_filter_any(void) {
    return (st_acl_filter_t){ST_ACL_RESOURCE_ANY, st_str_null(), ST_ACL_PATTERN_ANY, st_str_null(),
                             st_str_null(),       ST_ACL_OP_ANY, ST_ACL_PERMISSION_ANY};
}

int st_acl_filter_validate(const st_acl_filter_t *f, const char **message) {
    *message = NULL;
    if (f->resource_type < ST_ACL_RESOURCE_ANY || f->resource_type > ST_ACL_RESOURCE_USER)
        *message = "The filter has an unknown resource type";
    else if (f->pattern_type < ST_ACL_PATTERN_ANY || f->pattern_type > ST_ACL_PATTERN_PREFIXED)
        *message = "The filter has an unknown pattern type";
    else if (f->operation < ST_ACL_OP_ANY || f->operation > ST_ACL_OP_DESCRIBE_TOKENS)
        *message = "The filter has an unknown operation";
    else if (f->permission < ST_ACL_PERMISSION_ANY || f->permission > ST_ACL_PERMISSION_ALLOW)
        *message = "The filter has an unknown permission type";
    return *message ? ST_ERR_INVALID_REQUEST : 0;
}

/* Kafka's ResourcePatternFilter.matches. */
static bool pattern_filter_matches(const st_acl_filter_t *f, const st_acl_binding_t *b) {
    if (f->resource_type != ST_ACL_RESOURCE_ANY && f->resource_type != b->resource_type) return false;
    if (f->pattern_type != ST_ACL_PATTERN_ANY && f->pattern_type != ST_ACL_PATTERN_MATCH &&
        f->pattern_type != b->pattern_type)
        return false;
    if (st_str_is_null(f->resource_name)) return true;
    if (f->pattern_type == ST_ACL_PATTERN_ANY || f->pattern_type == b->pattern_type)
        return str_eq(f->resource_name, b->resource_name);
    /* MATCH: the ACLs that would apply to a resource named so. */
    if (b->pattern_type == ST_ACL_PATTERN_LITERAL)
        return str_eq(f->resource_name, b->resource_name) || str_eq_c(b->resource_name, ST_ACL_WILDCARD);
    if (b->pattern_type == ST_ACL_PATTERN_PREFIXED) return str_starts_with(f->resource_name, b->resource_name);
    return false;
}

bool st_acl_filter_matches(const st_acl_filter_t *f, const st_acl_binding_t *b) {
    if (!pattern_filter_matches(f, b)) return false;
    /* Kafka's AccessControlEntryFilter.matches. */
    if (!st_str_is_null(f->principal) && !str_eq(f->principal, b->principal)) return false;
    if (!st_str_is_null(f->host) && !str_eq(f->host, b->host)) return false;
    if (f->operation != ST_ACL_OP_ANY && f->operation != b->operation) return false;
    if (f->permission != ST_ACL_PERMISSION_ANY && f->permission != b->permission) return false;
    return true;
}

/* --- the store --- */

typedef struct acl_entry {
    st_uuid_t id;
    st_acl_binding_t binding; /* strings point into `strings` */
    bool removed;
    char strings[]; /* resource name, principal, host, each NUL-terminated */
} acl_entry_t;

struct st_authorizer {
    /* sorted[0..sorted_count) is in index order; sorted[sorted_count..count)
     * are adds not merged yet. */
    acl_entry_t **sorted;
    size_t sorted_count;
    size_t count;
    size_t capacity;
    size_t removed_pending; /* entries marked removed, still in `sorted` */
    /* id -> entry, open addressing with linear probing; slots is a power of 2. */
    acl_entry_t **by_id;
    size_t id_slots;
    size_t id_count;
    char **super_users;
    size_t super_user_count;
    bool allow_if_no_acl;
};

/* Kafka's StandardAcl.compareTo. */
static int entry_cmp(const acl_entry_t *x, const acl_entry_t *y) {
    const st_acl_binding_t *a = &x->binding, *b = &y->binding;
    if (a->resource_type != b->resource_type) return a->resource_type < b->resource_type ? -1 : 1;
    int c = str_cmp(b->resource_name, a->resource_name); /* reverse */
    if (c != 0) return c;
    if (a->pattern_type != b->pattern_type) return a->pattern_type < b->pattern_type ? -1 : 1;
    if (a->operation != b->operation) return a->operation < b->operation ? -1 : 1;
    if ((c = str_cmp(a->principal, b->principal)) != 0) return c;
    if ((c = str_cmp(a->host, b->host)) != 0) return c;
    if (a->permission != b->permission) return a->permission < b->permission ? -1 : 1;
    return memcmp(x->id.bytes, y->id.bytes, 16);
}

static int entry_qsort_cmp(const void *x, const void *y) {
    return entry_cmp(*(acl_entry_t *const *)x, *(acl_entry_t *const *)y);
}

static uint64_t id_hash(const st_uuid_t *id) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 16; i++) h = (h ^ id->bytes[i]) * 1099511628211ull;
    return h;
}

static size_t id_find_slot(const st_authorizer_t *a, const st_uuid_t *id) {
    size_t mask = a->id_slots - 1;
    size_t i = (size_t)id_hash(id) & mask;
    while (a->by_id[i] && memcmp(a->by_id[i]->id.bytes, id->bytes, 16) != 0) i = (i + 1) & mask;
    return i;
}

static int id_grow(st_authorizer_t *a) {
    size_t old_slots = a->id_slots;
    acl_entry_t **old = a->by_id;
    size_t slots = old_slots ? old_slots * 2 : 64;
    acl_entry_t **grown = calloc(slots, sizeof *grown);
    if (!grown) return ST_ERR_NO_MEMORY;
    a->by_id = grown;
    a->id_slots = slots;
    for (size_t i = 0; i < old_slots; i++)
        if (old[i]) a->by_id[id_find_slot(a, &old[i]->id)] = old[i];
    free(old);
    return 0;
}

/* Backward-shift deletion (Knuth 6.4, algorithm R): no tombstones. */
static void id_delete_slot(st_authorizer_t *a, size_t i) {
    size_t mask = a->id_slots - 1;
    a->by_id[i] = NULL;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!a->by_id[j]) return;
        size_t home = (size_t)id_hash(&a->by_id[j]->id) & mask;
        /* Move j back to i when its home is not cyclically in (i, j]. */
        bool in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            a->by_id[i] = a->by_id[j];
            a->by_id[j] = NULL;
            i = j;
        }
    }
}

st_authorizer_t *st_authorizer_new(void) {
    st_authorizer_t *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    if (id_grow(a) != 0) {
        free(a);
        return NULL;
    }
    return a;
}

static void free_super_users(st_authorizer_t *a) {
    for (size_t i = 0; i < a->super_user_count; i++) free(a->super_users[i]);
    free(a->super_users);
    a->super_users = NULL;
    a->super_user_count = 0;
}

void st_authorizer_free(st_authorizer_t *a) {
    if (!a) return;
    for (size_t i = 0; i < a->count; i++) free(a->sorted[i]);
    free(a->sorted);
    free(a->by_id);
    free_super_users(a);
    free(a);
}

int st_authorizer_configure(st_authorizer_t *a, const char *super_users, bool allow_if_no_acl) {
    char **users = NULL;
    size_t count = 0;
    const char *p = super_users ? super_users : "";
    while (*p) {
        const char *end = strchr(p, ';');
        if (!end) end = p + strlen(p);
        const char *s = p, *e = end;
        while (s < e && (*s == ' ' || *s == '\t')) s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if (e > s) {
            if (!memchr(s, ':', (size_t)(e - s))) goto err_invalid;
            char **grown = realloc(users, (count + 1) * sizeof *users);
            if (!grown) goto err_no_memory;
            users = grown;
            if (!(users[count] = strndup(s, (size_t)(e - s)))) goto err_no_memory;
            count++;
        }
        p = *end ? end + 1 : end;
    }
    free_super_users(a);
    a->super_users = users;
    a->super_user_count = count;
    a->allow_if_no_acl = allow_if_no_acl;
    return 0;
err_no_memory:
    for (size_t i = 0; i < count; i++) free(users[i]);
    free(users);
    return ST_ERR_NO_MEMORY;
err_invalid:
    for (size_t i = 0; i < count; i++) free(users[i]);
    free(users);
    return ST_ERR_INVALID_REQUEST;
}

static st_str_t copy_into(char **cursor, st_str_t s) {
    memcpy(*cursor, s.ptr, (size_t)s.len);
    st_str_t out = {*cursor, s.len};
    (*cursor)[s.len] = '\0';
    *cursor += s.len + 1;
    return out;
}

int st_authorizer_add(st_authorizer_t *a, const st_uuid_t *id, const st_acl_binding_t *b) {
    const char *message;
    if (st_acl_binding_validate(b, &message) != 0) return ST_ERR_INVALID_REQUEST;
    if (a->by_id[id_find_slot(a, id)]) return ST_ERR_DUPLICATE_RESOURCE;
    if ((a->id_count + 1) * 4 > a->id_slots * 3 && id_grow(a) != 0) return ST_ERR_NO_MEMORY;
    if (a->count == a->capacity) {
        size_t capacity = a->capacity ? a->capacity * 2 : 16;
        acl_entry_t **grown = realloc(a->sorted, capacity * sizeof *grown);
        if (!grown) return ST_ERR_NO_MEMORY;
        a->sorted = grown;
        a->capacity = capacity;
    }
    size_t bytes = (size_t)b->resource_name.len + (size_t)b->principal.len + (size_t)b->host.len + 3;
    acl_entry_t *e = malloc(sizeof *e + bytes);
    if (!e) return ST_ERR_NO_MEMORY;
    e->id = *id;
    e->removed = false;
    e->binding = *b;
    char *cursor = e->strings;
    e->binding.resource_name = copy_into(&cursor, b->resource_name);
    e->binding.principal = copy_into(&cursor, b->principal);
    e->binding.host = copy_into(&cursor, b->host);
    a->sorted[a->count++] = e;
    a->by_id[id_find_slot(a, id)] = e;
    a->id_count++;
    return 0;
}

int st_authorizer_remove(st_authorizer_t *a, const st_uuid_t *id) {
    size_t slot = id_find_slot(a, id);
    acl_entry_t *e = a->by_id[slot];
    if (!e) return ST_ERR_RESOURCE_NOT_FOUND;
    id_delete_slot(a, slot);
    a->id_count--;
    e->removed = true; /* freed by the next merge */
    a->removed_pending++;
    return 0;
}

size_t st_authorizer_count(const st_authorizer_t *a) { return a->id_count; }

/* Invariant 2: sorts the pending adds, merges them into the sorted part and
 * drops removed entries. */
static void merge_pending(st_authorizer_t *a) {
    if (a->sorted_count == a->count && a->removed_pending == 0) return;
    size_t pending = a->count - a->sorted_count;
    qsort(a->sorted + a->sorted_count, pending, sizeof *a->sorted, entry_qsort_cmp);
    acl_entry_t **merged = malloc((a->count ? a->count : 1) * sizeof *merged);
    if (!merged) {
        /* No memory for the merge buffer: sort everything in place instead. */
        qsort(a->sorted, a->count, sizeof *a->sorted, entry_qsort_cmp);
        size_t kept = 0;
        for (size_t i = 0; i < a->count; i++) {
            if (a->sorted[i]->removed) free(a->sorted[i]);
            else a->sorted[kept++] = a->sorted[i];
        }
        a->count = a->sorted_count = kept;
        a->removed_pending = 0;
        return;
    }
    size_t i = 0, j = a->sorted_count, n = 0;
    while (i < a->sorted_count || j < a->count) {
        acl_entry_t *next;
        if (j >= a->count || (i < a->sorted_count && entry_cmp(a->sorted[i], a->sorted[j]) <= 0))
            next = a->sorted[i++];
        else
            next = a->sorted[j++];
        if (next->removed) free(next);
        else merged[n++] = next;
    }
    memcpy(a->sorted, merged, n * sizeof *merged);
    free(merged);
    a->count = a->sorted_count = n;
    a->removed_pending = 0;
    assert(a->count == a->id_count);
}

/* First index whose entry is >= (type, name, pattern 0, ...) in index
 * order: every ACL of that type whose name is <= `name`. */
static size_t lower_bound(const st_authorizer_t *a, int8_t type, st_str_t name, int8_t pattern_type) {
    size_t lo = 0, hi = a->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const st_acl_binding_t *b = &a->sorted[mid]->binding;
        int c;
        if (b->resource_type != type) c = b->resource_type < type ? -1 : 1;
        else if ((c = str_cmp(name, b->resource_name)) == 0) c = b->pattern_type < pattern_type ? -1 : 0;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* First index whose resource type is >= type. */
static size_t type_lower_bound(const st_authorizer_t *a, int8_t type) {
    size_t lo = 0, hi = a->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->sorted[mid]->binding.resource_type < type) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

typedef struct match_state {
    bool has_resource_acls;
    bool allowed;
    bool denied;
} match_state_t;

/* Kafka's findResult: does this ACL (whose resource matches) speak for the
 * caller, and how. 0: it does not; 1 allow; -1 deny. */
static int acl_result(const st_acl_binding_t *acl, const char *principal, const char *host, int8_t operation) {
    if (!str_eq_c(acl->principal, principal) && !str_eq_c(acl->principal, ST_ACL_WILDCARD_PRINCIPAL)) return 0;
    if (!str_eq_c(acl->host, ST_ACL_WILDCARD) && !str_eq_c(acl->host, host)) return 0;
    if (acl->operation != ST_ACL_OP_ALL) {
        if (acl->permission == ST_ACL_PERMISSION_ALLOW) {
            int8_t o = acl->operation;
            if (operation == ST_ACL_OP_DESCRIBE) {
                if (o != ST_ACL_OP_DESCRIBE && o != ST_ACL_OP_READ && o != ST_ACL_OP_WRITE && o != ST_ACL_OP_DELETE &&
                    o != ST_ACL_OP_ALTER)
                    return 0;
            } else if (operation == ST_ACL_OP_DESCRIBE_CONFIGS) {
                if (o != ST_ACL_OP_DESCRIBE_CONFIGS && o != ST_ACL_OP_ALTER_CONFIGS) return 0;
            } else if (o != operation) {
                return 0;
            }
        } else if (acl->operation != operation) {
            return 0;
        }
    }
    return acl->permission == ST_ACL_PERMISSION_ALLOW ? 1 : -1;
}

/* Kafka's checkSection: walks from (type, start_name, start_pattern). */
static void check_section(const st_authorizer_t *a, int8_t type, st_str_t resource, st_str_t start_name,
                          int8_t start_pattern, const char *principal, const char *host, int8_t operation,
                          match_state_t *m) {
    size_t i = lower_bound(a, type, start_name, start_pattern);
    while (i < a->count) {
        const st_acl_binding_t *acl = &a->sorted[i]->binding;
        if (acl->resource_type != type) return;
        size_t upto = common_prefix(resource, acl->resource_name);
        if (upto == (size_t)acl->resource_name.len) {
            if (acl->pattern_type == ST_ACL_PATTERN_LITERAL && upto != (size_t)resource.len) {
                i++; /* a literal that is a proper prefix: keep walking for PREFIXED ones */
                continue;
            }
        } else if (!(acl->pattern_type == ST_ACL_PATTERN_LITERAL && str_eq_c(acl->resource_name, ST_ACL_WILDCARD))) {
            /* Not a prefix: jump to the longest common prefix. */
            i = lower_bound(a, type, (st_str_t){resource.ptr, (int32_t)upto}, ST_ACL_PATTERN_UNKNOWN);
            continue;
        }
        m->has_resource_acls = true;
        int r = acl_result(acl, principal, host, operation);
        if (r > 0) m->allowed = true;
        if (r < 0) {
            m->denied = true;
            return;
        }
        i++;
    }
}

static bool is_super_user(const st_authorizer_t *a, const char *principal) {
    for (size_t i = 0; i < a->super_user_count; i++)
        if (strcmp(a->super_users[i], principal) == 0) return true;
    return false;
}

st_authz_result_t st_authorizer_authorize(st_authorizer_t *a, const char *principal, const char *host,
                                          int8_t operation, int8_t resource_type, st_str_t resource_name) {
    assert(operation > ST_ACL_OP_ALL && operation <= ST_ACL_OP_DESCRIBE_TOKENS);
    if (is_super_user(a, principal)) return ST_AUTHZ_ALLOWED;
    merge_pending(a);
    if (resource_name.len < 0) resource_name = st_str("");
    match_state_t m = {0};
    check_section(a, resource_type, resource_name, resource_name, ST_ACL_PATTERN_UNKNOWN, principal, host, operation,
                  &m);
    if (!m.denied)
        check_section(a, resource_type, resource_name, st_str(ST_ACL_WILDCARD), ST_ACL_PATTERN_LITERAL, principal,
                      host, operation, &m);
    if (m.denied) return ST_AUTHZ_DENIED;
    if (m.allowed) return ST_AUTHZ_ALLOWED;
    if (!m.has_resource_acls) return a->allow_if_no_acl ? ST_AUTHZ_ALLOWED : ST_AUTHZ_DENIED;
    return ST_AUTHZ_DENIED;
}

st_authz_result_t st_authorizer_authorize_by_resource_type(st_authorizer_t *a, const char *principal,
                                                           const char *host, int8_t operation, int8_t resource_type) {
    /* A hard-coded name first, so super users (and the no-ACL rule) win
     * regardless of DENY ACLs, as Kafka's default does. */
    if (st_authorizer_authorize(a, principal, host, operation, resource_type, st_str("hardcode")) == ST_AUTHZ_ALLOWED)
        return ST_AUTHZ_ALLOWED;
    merge_pending(a);
    /* The ACLs of the type are contiguous in the index. */
    size_t first = type_lower_bound(a, resource_type);
    size_t end = type_lower_bound(a, (int8_t)(resource_type + 1));
    const st_acl_binding_t **allows = malloc((end - first + 1) * sizeof *allows);
    const st_acl_binding_t **denies = malloc((end - first + 1) * sizeof *denies);
    st_authz_result_t result = ST_AUTHZ_DENIED;
    size_t allow_count = 0, deny_count = 0;
    bool wildcard_allow = false;
    if (!allows || !denies) goto out;
    for (size_t i = first; i < end; i++) {
        const st_acl_binding_t *b = &a->sorted[i]->binding;
        if (!str_eq_c(b->host, host) && !str_eq_c(b->host, ST_ACL_WILDCARD)) continue;
        if (!str_eq_c(b->principal, principal) && !str_eq_c(b->principal, ST_ACL_WILDCARD_PRINCIPAL)) continue;
        if (b->operation != operation && b->operation != ST_ACL_OP_ALL) continue;
        bool wildcard = b->pattern_type == ST_ACL_PATTERN_LITERAL && str_eq_c(b->resource_name, ST_ACL_WILDCARD);
        if (b->permission == ST_ACL_PERMISSION_DENY) {
            if (wildcard) goto out; /* a wildcard DENY denies at once */
            denies[deny_count++] = b;
        } else if (b->permission == ST_ACL_PERMISSION_ALLOW) {
            if (wildcard) wildcard_allow = true;
            else allows[allow_count++] = b;
        }
    }
    if (wildcard_allow) {
        result = ST_AUTHZ_ALLOWED;
        goto out;
    }
    /* An ALLOW counts unless a DENY dominates it: the same LITERAL name, or
     * a PREFIXED deny that is a prefix of the allowed pattern's name. */
    for (size_t i = 0; i < allow_count && result == ST_AUTHZ_DENIED; i++) {
        bool dominated = false;
        for (size_t j = 0; j < deny_count && !dominated; j++) {
            const st_acl_binding_t *d = denies[j];
            if (d->pattern_type == ST_ACL_PATTERN_LITERAL)
                dominated = allows[i]->pattern_type == ST_ACL_PATTERN_LITERAL &&
                            str_eq(d->resource_name, allows[i]->resource_name);
            else
                dominated = str_starts_with(allows[i]->resource_name, d->resource_name);
        }
        if (!dominated) result = ST_AUTHZ_ALLOWED;
    }
out:
    free(allows);
    free(denies);
    return result;
}

/* Kafka's AclEntry.supportedOperations. */
static const int8_t *supported_operations(int8_t type, size_t *count) {
    static const int8_t topic[] = {ST_ACL_OP_READ,     ST_ACL_OP_WRITE,  ST_ACL_OP_CREATE,
                                   ST_ACL_OP_DESCRIBE, ST_ACL_OP_DELETE, ST_ACL_OP_ALTER,
                                   ST_ACL_OP_DESCRIBE_CONFIGS, ST_ACL_OP_ALTER_CONFIGS};
    static const int8_t group[] = {ST_ACL_OP_READ, ST_ACL_OP_DESCRIBE, ST_ACL_OP_DELETE};
    static const int8_t cluster[] = {ST_ACL_OP_CREATE,          ST_ACL_OP_CLUSTER_ACTION,   ST_ACL_OP_DESCRIBE_CONFIGS,
                                     ST_ACL_OP_ALTER_CONFIGS,   ST_ACL_OP_IDEMPOTENT_WRITE, ST_ACL_OP_ALTER,
                                     ST_ACL_OP_DESCRIBE};
    static const int8_t transactional_id[] = {ST_ACL_OP_DESCRIBE, ST_ACL_OP_WRITE};
    static const int8_t delegation_token[] = {ST_ACL_OP_DESCRIBE};
    static const int8_t user[] = {ST_ACL_OP_CREATE_TOKENS, ST_ACL_OP_DESCRIBE_TOKENS};
    switch (type) {
    case ST_ACL_RESOURCE_TOPIC: *count = sizeof topic; return topic;
    case ST_ACL_RESOURCE_GROUP: *count = sizeof group; return group;
    case ST_ACL_RESOURCE_CLUSTER: *count = sizeof cluster; return cluster;
    case ST_ACL_RESOURCE_TRANSACTIONAL_ID: *count = sizeof transactional_id; return transactional_id;
    case ST_ACL_RESOURCE_DELEGATION_TOKEN: *count = sizeof delegation_token; return delegation_token;
    case ST_ACL_RESOURCE_USER: *count = sizeof user; return user;
    default: *count = 0; return NULL;
    }
}

int32_t st_authorizer_authorized_operations(st_authorizer_t *a, const char *principal, const char *host,
                                            int8_t resource_type, st_str_t resource_name) {
    size_t count;
    const int8_t *ops = supported_operations(resource_type, &count);
    uint32_t bits = 0;
    for (size_t i = 0; i < count; i++)
        if (st_authorizer_authorize(a, principal, host, ops[i], resource_type, resource_name) == ST_AUTHZ_ALLOWED)
            bits |= 1u << ops[i];
    return (int32_t)bits;
}

size_t st_authorizer_find(st_authorizer_t *a, const st_acl_filter_t *f, st_acl_visit_fn visit, void *ctx) {
    merge_pending(a);
    size_t matched = 0;
    for (size_t i = 0; i < a->count; i++) {
        const acl_entry_t *e = a->sorted[i];
        if (!st_acl_filter_matches(f, &e->binding)) continue;
        matched++;
        if (visit) visit(ctx, &e->id, &e->binding);
    }
    return matched;
}

void st_acl_format_host(int family, const uint8_t *addr, char buf[ST_ACL_HOST_BYTES]) {
    if (family == 4) {
        snprintf(buf, ST_ACL_HOST_BYTES, "%u.%u.%u.%u", addr[0], addr[1], addr[2], addr[3]);
        return;
    }
    static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(addr, v4_mapped, 12) == 0) {
        /* Java hands these out as Inet4Address. */
        st_acl_format_host(4, addr + 12, buf);
        return;
    }
    /* Java's Inet6Address.getHostAddress: eight groups, no "::" compression,
     * no leading zeros. */
    int n = 0;
    for (int g = 0; g < 8; g++)
        n += snprintf(buf + n, (size_t)(ST_ACL_HOST_BYTES - n), g ? ":%x" : "%x",
                      (unsigned)(addr[2 * g] << 8 | addr[2 * g + 1]));
}
