#include "security/regex.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A program for a backtracking VM (Pike/Thompson instruction set, run
 * depth-first in priority order as Java's matcher does). */
enum {
    OP_CHAR,  /* arg: the byte */
    OP_ANY,   /* any byte but \n, \r */
    OP_CLASS, /* arg: index of a 256-bit set */
    OP_BOL,
    OP_EOL,
    OP_SAVE,  /* arg: capture slot */
    OP_SPLIT, /* try x first, then y */
    OP_JMP,   /* x */
    OP_MARK,  /* arg: register; remember where a loop iteration starts */
    OP_CHECK, /* arg: register; an iteration that matched nothing leaves the loop (to x) */
    OP_MATCH,
};

#define PROGRAM_MAX 8192
#define CLASSES_MAX 256
#define LOOPS_MAX 64

typedef struct inst {
    uint8_t op;
    int arg;
    int x, y;
} inst_t;

typedef struct class_set {
    uint8_t bits[32];
} class_set_t;

struct st_regex {
    inst_t *prog;
    int prog_len, prog_cap;
    class_set_t *classes;
    int class_count, class_cap;
    int groups;
    int loops;
};

/* --- parsing into a tree --- */

enum { N_EMPTY, N_CHAR, N_ANY, N_CLASS, N_BOL, N_EOL, N_GROUP, N_CONCAT, N_ALT, N_REPEAT };

typedef struct node {
    int kind;
    int value;           /* N_CHAR byte, N_CLASS index, N_GROUP index (-1 non-capturing) */
    int min, max;        /* N_REPEAT; max -1: unbounded */
    bool lazy;
    struct node *child;  /* N_GROUP, N_REPEAT */
    struct node **items; /* N_CONCAT, N_ALT */
    int item_count;
} node_t;

typedef struct parser {
    const char *p;
    size_t len;
    size_t at;
    bool icase;
    int groups;
    int depth;
    st_regex_t *re;
    char *error;
    size_t cap;
    bool failed;
    node_t **all; /* every node, freed at the end */
    int all_count, all_cap;
} parser_t;

static void fail(parser_t *ps, const char *what) {
    if (!ps->failed) snprintf(ps->error, ps->cap, "%s near index %zu", what, ps->at);
    ps->failed = true;
}

static node_t *new_node(parser_t *ps, int kind) {
    if (ps->failed) return NULL;
    if (ps->all_count == ps->all_cap) {
        int cap = ps->all_cap ? ps->all_cap * 2 : 32;
        node_t **grown = realloc(ps->all, (size_t)cap * sizeof *grown);
        if (!grown) {
            fail(ps, "out of memory");
            return NULL;
        }
        ps->all = grown;
        ps->all_cap = cap;
    }
    node_t *n = calloc(1, sizeof *n);
    if (!n) {
        fail(ps, "out of memory");
        return NULL;
    }
    n->kind = kind;
    ps->all[ps->all_count++] = n;
    return n;
}

static bool add_item(parser_t *ps, node_t *list, node_t *item) {
    node_t **grown = realloc(list->items, (size_t)(list->item_count + 1) * sizeof *grown);
    if (!grown) {
        fail(ps, "out of memory");
        return false;
    }
    list->items = grown;
    list->items[list->item_count++] = item;
    return true;
}

static void set_bit(class_set_t *c, int b) { c->bits[b >> 3] |= (uint8_t)(1u << (b & 7)); }
static bool has_bit(const class_set_t *c, int b) { return (c->bits[b >> 3] >> (b & 7)) & 1; }

static int new_class(parser_t *ps) {
    st_regex_t *re = ps->re;
    if (re->class_count == CLASSES_MAX) {
        fail(ps, "too many character classes");
        return -1;
    }
    if (re->class_count == re->class_cap) {
        int cap = re->class_cap ? re->class_cap * 2 : 8;
        class_set_t *grown = realloc(re->classes, (size_t)cap * sizeof *grown);
        if (!grown) {
            fail(ps, "out of memory");
            return -1;
        }
        re->classes = grown;
        re->class_cap = cap;
    }
    memset(&ps->re->classes[ps->re->class_count], 0, sizeof(class_set_t));
    return ps->re->class_count++;
}

static void add_range(class_set_t *c, int lo, int hi) {
    for (int b = lo; b <= hi; b++) set_bit(c, b);
}

/* \d \w \s and their negations into c; false for another letter. */
static bool add_shorthand(class_set_t *c, char e) {
    class_set_t s;
    memset(&s, 0, sizeof s);
    char lower = (char)(e | 0x20);
    if (lower == 'd') add_range(&s, '0', '9');
    else if (lower == 'w') {
        add_range(&s, 'a', 'z');
        add_range(&s, 'A', 'Z');
        add_range(&s, '0', '9');
        set_bit(&s, '_');
    } else if (lower == 's') {
        const char *ws = " \t\n\x0b\f\r";
        for (const char *w = ws; *w; w++) set_bit(&s, (unsigned char)*w);
    } else {
        return false;
    }
    bool negate = e >= 'A' && e <= 'Z';
    for (int b = 0; b < 256; b++)
        if (has_bit(&s, b) != negate) set_bit(c, b);
    return true;
}

static void fold_case(class_set_t *c) {
    for (int b = 'a'; b <= 'z'; b++) {
        if (has_bit(c, b)) set_bit(c, b - 32);
        if (has_bit(c, b - 32)) set_bit(c, b);
    }
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A single-byte escape (after the backslash), or -1 when it is not one. */
static int escaped_byte(parser_t *ps) {
    char e = ps->p[ps->at];
    switch (e) {
    case 't': ps->at++; return '\t';
    case 'n': ps->at++; return '\n';
    case 'r': ps->at++; return '\r';
    case 'f': ps->at++; return '\f';
    case 'a': ps->at++; return 7;
    case 'e': ps->at++; return 27;
    case 'x': {
        int hi = ps->at + 1 < ps->len ? hex_value(ps->p[ps->at + 1]) : -1;
        int lo = ps->at + 2 < ps->len ? hex_value(ps->p[ps->at + 2]) : -1;
        if (hi < 0 || lo < 0) return -1;
        ps->at += 3;
        return hi * 16 + lo;
    }
    default:
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) return -1;
        ps->at++;
        return (unsigned char)e;
    }
}

static node_t *parse_class(parser_t *ps) {
    ps->at++; /* '[' */
    int idx = new_class(ps);
    if (idx < 0) return NULL;
    class_set_t *c = &ps->re->classes[idx];
    bool negate = ps->at < ps->len && ps->p[ps->at] == '^';
    if (negate) ps->at++;
    bool first = true;
    for (;;) {
        if (ps->at >= ps->len) {
            fail(ps, "Unclosed character class");
            return NULL;
        }
        char ch = ps->p[ps->at];
        if (ch == ']' && !first) {
            ps->at++;
            break;
        }
        first = false;
        if (ch == '[' || (ch == '&' && ps->at + 1 < ps->len && ps->p[ps->at + 1] == '&')) {
            fail(ps, "nested classes and class intersections are not supported");
            return NULL;
        }
        int lo;
        if (ch == '\\') {
            ps->at++;
            if (ps->at >= ps->len) {
                fail(ps, "Unexpected internal error");
                return NULL;
            }
            if (add_shorthand(c, ps->p[ps->at])) {
                ps->at++;
                continue;
            }
            lo = escaped_byte(ps);
            if (lo < 0) {
                fail(ps, "unsupported escape in a character class");
                return NULL;
            }
        } else {
            lo = (unsigned char)ch;
            ps->at++;
        }
        int hi = lo;
        if (ps->at + 1 < ps->len && ps->p[ps->at] == '-' && ps->p[ps->at + 1] != ']') {
            ps->at++;
            char h = ps->p[ps->at];
            if (h == '\\') {
                ps->at++;
                hi = ps->at < ps->len ? escaped_byte(ps) : -1;
            } else if (h == '[') {
                hi = -1;
            } else {
                hi = (unsigned char)h;
                ps->at++;
            }
            if (hi < lo) {
                fail(ps, "Illegal character range");
                return NULL;
            }
        }
        add_range(c, lo, hi);
    }
    if (ps->icase) fold_case(c);
    if (negate)
        for (int b = 0; b < 32; b++) c->bits[b] = (uint8_t)~c->bits[b];
    node_t *n = new_node(ps, N_CLASS);
    if (n) n->value = idx;
    return n;
}

static node_t *literal(parser_t *ps, int byte) {
    bool letter = (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z');
    if (ps->icase && letter) {
        int idx = new_class(ps);
        if (idx < 0) return NULL;
        set_bit(&ps->re->classes[idx], byte);
        fold_case(&ps->re->classes[idx]);
        node_t *n = new_node(ps, N_CLASS);
        if (n) n->value = idx;
        return n;
    }
    node_t *n = new_node(ps, N_CHAR);
    if (n) n->value = byte;
    return n;
}

static node_t *parse_alt(parser_t *ps);

static node_t *parse_atom(parser_t *ps) {
    char ch = ps->p[ps->at];
    switch (ch) {
    case '(': {
        ps->at++;
        int index = -1;
        if (ps->at < ps->len && ps->p[ps->at] == '?') {
            if (ps->at + 1 < ps->len && ps->p[ps->at + 1] == ':') {
                ps->at += 2;
            } else {
                fail(ps, "only (?:...) and a leading (?i) are supported among (? constructs");
                return NULL;
            }
        } else {
            if (ps->groups == ST_REGEX_GROUPS_MAX) {
                fail(ps, "too many groups");
                return NULL;
            }
            index = ++ps->groups;
        }
        if (++ps->depth > 64) {
            fail(ps, "groups nested too deep");
            return NULL;
        }
        node_t *child = parse_alt(ps);
        ps->depth--;
        if (ps->failed) return NULL;
        if (ps->at >= ps->len || ps->p[ps->at] != ')') {
            fail(ps, "Unclosed group");
            return NULL;
        }
        ps->at++;
        node_t *n = new_node(ps, N_GROUP);
        if (n) {
            n->value = index;
            n->child = child;
        }
        return n;
    }
    case '[': return parse_class(ps);
    case '.': ps->at++; return new_node(ps, N_ANY);
    case '^': ps->at++; return new_node(ps, N_BOL);
    case '$': ps->at++; return new_node(ps, N_EOL);
    case '*':
    case '+':
    case '?':
    case '{': fail(ps, "Dangling meta character"); return NULL;
    case '\\': {
        ps->at++;
        if (ps->at >= ps->len) {
            fail(ps, "Unexpected internal error");
            return NULL;
        }
        char e = ps->p[ps->at];
        int idx = -1;
        if (e == 'd' || e == 'D' || e == 'w' || e == 'W' || e == 's' || e == 'S') {
            idx = new_class(ps);
            if (idx < 0) return NULL;
            add_shorthand(&ps->re->classes[idx], e);
            ps->at++;
            node_t *n = new_node(ps, N_CLASS);
            if (n) n->value = idx;
            return n;
        }
        int b = escaped_byte(ps);
        if (b < 0) {
            fail(ps, "unsupported escape (backreferences, \\b, \\p, \\Q and the like are not supported)");
            return NULL;
        }
        return literal(ps, b);
    }
    default: ps->at++; return literal(ps, (unsigned char)ch);
    }
}

static bool parse_count(parser_t *ps, int *out) {
    size_t start = ps->at;
    long v = 0;
    while (ps->at < ps->len && ps->p[ps->at] >= '0' && ps->p[ps->at] <= '9') {
        v = v * 10 + (ps->p[ps->at] - '0');
        if (v > 1000) return false;
        ps->at++;
    }
    *out = (int)v;
    return ps->at > start;
}

static node_t *parse_repeat(parser_t *ps) {
    node_t *atom = parse_atom(ps);
    if (ps->failed || ps->at >= ps->len) return atom;
    char q = ps->p[ps->at];
    int min, max;
    if (q == '*') min = 0, max = -1;
    else if (q == '+') min = 1, max = -1;
    else if (q == '?') min = 0, max = 1;
    else if (q == '{') {
        ps->at++;
        if (!parse_count(ps, &min)) {
            fail(ps, "Illegal repetition");
            return NULL;
        }
        max = min;
        if (ps->at < ps->len && ps->p[ps->at] == ',') {
            ps->at++;
            max = -1;
            if (ps->at < ps->len && ps->p[ps->at] != '}' && !parse_count(ps, &max)) {
                fail(ps, "Illegal repetition");
                return NULL;
            }
        }
        if (ps->at >= ps->len || ps->p[ps->at] != '}' || (max >= 0 && max < min)) {
            fail(ps, "Illegal repetition range");
            return NULL;
        }
    } else {
        return atom;
    }
    ps->at++;
    bool lazy = false;
    if (ps->at < ps->len && ps->p[ps->at] == '?') {
        lazy = true;
        ps->at++;
    } else if (ps->at < ps->len && ps->p[ps->at] == '+') {
        fail(ps, "possessive quantifiers are not supported");
        return NULL;
    }
    if (ps->at < ps->len && (ps->p[ps->at] == '*' || ps->p[ps->at] == '+' || ps->p[ps->at] == '?' ||
                             ps->p[ps->at] == '{')) {
        fail(ps, "Dangling meta character");
        return NULL;
    }
    node_t *n = new_node(ps, N_REPEAT);
    if (n) {
        n->child = atom;
        n->min = min;
        n->max = max;
        n->lazy = lazy;
    }
    return n;
}

static node_t *parse_concat(parser_t *ps) {
    node_t *list = new_node(ps, N_CONCAT);
    while (!ps->failed && ps->at < ps->len && ps->p[ps->at] != '|' && ps->p[ps->at] != ')') {
        node_t *item = parse_repeat(ps);
        if (!item || !add_item(ps, list, item)) return NULL;
    }
    return list;
}

static node_t *parse_alt(parser_t *ps) {
    node_t *first = parse_concat(ps);
    if (ps->failed || ps->at >= ps->len || ps->p[ps->at] != '|') return first;
    node_t *alt = new_node(ps, N_ALT);
    if (!alt || !add_item(ps, alt, first)) return NULL;
    while (!ps->failed && ps->at < ps->len && ps->p[ps->at] == '|') {
        ps->at++;
        node_t *next = parse_concat(ps);
        if (!next || !add_item(ps, alt, next)) return NULL;
    }
    return alt;
}

/* --- compiling the tree --- */

typedef struct compiler {
    st_regex_t *re;
    parser_t *ps;
} compiler_t;

static int emit(compiler_t *c, uint8_t op, int arg) {
    st_regex_t *re = c->re;
    if (re->prog_len == PROGRAM_MAX) {
        fail(c->ps, "pattern too complex");
        return 0;
    }
    if (re->prog_len == re->prog_cap) {
        int cap = re->prog_cap ? re->prog_cap * 2 : 64;
        inst_t *grown = realloc(re->prog, (size_t)cap * sizeof *grown);
        if (!grown) {
            fail(c->ps, "out of memory");
            return 0;
        }
        re->prog = grown;
        re->prog_cap = cap;
    }
    int at = c->re->prog_len++;
    c->re->prog[at] = (inst_t){op, arg, 0, 0};
    return at;
}

static void compile_node(compiler_t *c, const node_t *n);

static void compile_loop(compiler_t *c, const node_t *child, bool lazy) {
    if (c->re->loops == LOOPS_MAX) {
        fail(c->ps, "too many loops");
        return;
    }
    int reg = c->re->loops++;
    int split = emit(c, OP_SPLIT, 0);
    int body = emit(c, OP_MARK, reg);
    compile_node(c, child);
    int check = emit(c, OP_CHECK, reg);
    int jmp = emit(c, OP_JMP, 0);
    int end = c->re->prog_len;
    if (c->ps->failed) return;
    c->re->prog[check].x = end;
    c->re->prog[jmp].x = split;
    c->re->prog[split].x = lazy ? end : body;
    c->re->prog[split].y = lazy ? body : end;
}

static void compile_node(compiler_t *c, const node_t *n) {
    if (c->ps->failed || !n) return;
    switch (n->kind) {
    case N_CHAR: emit(c, OP_CHAR, n->value); break;
    case N_ANY: emit(c, OP_ANY, 0); break;
    case N_CLASS: emit(c, OP_CLASS, n->value); break;
    case N_BOL: emit(c, OP_BOL, 0); break;
    case N_EOL: emit(c, OP_EOL, 0); break;
    case N_GROUP:
        if (n->value > 0) emit(c, OP_SAVE, 2 * n->value);
        compile_node(c, n->child);
        if (n->value > 0) emit(c, OP_SAVE, 2 * n->value + 1);
        break;
    case N_CONCAT:
        for (int i = 0; i < n->item_count; i++) compile_node(c, n->items[i]);
        break;
    case N_ALT: {
        /* SPLIT a, next; a; JMP end; ... last */
        int jumps[256];
        int jump_count = 0;
        if (n->item_count > 256) {
            fail(c->ps, "too many alternatives");
            return;
        }
        for (int i = 0; i < n->item_count; i++) {
            int split = -1;
            if (i + 1 < n->item_count) split = emit(c, OP_SPLIT, 0);
            int start = c->re->prog_len;
            compile_node(c, n->items[i]);
            if (i + 1 < n->item_count) {
                jumps[jump_count++] = emit(c, OP_JMP, 0);
                if (c->ps->failed) return;
                c->re->prog[split].x = start;
                c->re->prog[split].y = c->re->prog_len;
            }
        }
        if (c->ps->failed) return;
        for (int i = 0; i < jump_count; i++) c->re->prog[jumps[i]].x = c->re->prog_len;
        break;
    }
    case N_REPEAT: {
        for (int i = 0; i < n->min; i++) compile_node(c, n->child);
        if (n->max < 0) {
            compile_loop(c, n->child, n->lazy);
            break;
        }
        /* (max - min) optional copies, each skipping to the end. */
        int splits[1001];
        int count = 0;
        for (int i = n->min; i < n->max && !c->ps->failed; i++) {
            splits[count++] = emit(c, OP_SPLIT, 0);
            compile_node(c, n->child);
        }
        if (c->ps->failed) return;
        int end = c->re->prog_len;
        for (int i = 0; i < count; i++) {
            int body = splits[i] + 1;
            c->re->prog[splits[i]].x = n->lazy ? end : body;
            c->re->prog[splits[i]].y = n->lazy ? body : end;
        }
        break;
    }
    default: break;
    }
}

st_regex_t *st_regex_compile(const char *pattern, size_t len, char *error, size_t cap) {
    if (len > ST_REGEX_PATTERN_BYTES_MAX) {
        snprintf(error, cap, "pattern longer than %d bytes", ST_REGEX_PATTERN_BYTES_MAX);
        return NULL;
    }
    st_regex_t *re = calloc(1, sizeof *re);
    if (!re) {
        snprintf(error, cap, "out of memory");
        return NULL;
    }
    parser_t ps = {.p = pattern, .len = len, .re = re, .error = error, .cap = cap};
    if (len >= 4 && memcmp(pattern, "(?i)", 4) == 0) {
        ps.icase = true;
        ps.at = 4;
    }
    node_t *root = parse_alt(&ps);
    if (!ps.failed && ps.at < ps.len) fail(&ps, "Unmatched closing ')'");
    if (!ps.failed) {
        re->groups = ps.groups;
        compiler_t c = {re, &ps};
        emit(&c, OP_SAVE, 0);
        compile_node(&c, root);
        emit(&c, OP_SAVE, 1);
        emit(&c, OP_MATCH, 0);
    }
    for (int i = 0; i < ps.all_count; i++) {
        free(ps.all[i]->items);
        free(ps.all[i]);
    }
    free(ps.all);
    if (ps.failed) {
        st_regex_free(re);
        return NULL;
    }
    return re;
}

void st_regex_free(st_regex_t *re) {
    if (!re) return;
    free(re->prog);
    free(re->classes);
    free(re);
}

int st_regex_group_count(const st_regex_t *re) { return re->groups; }

/* --- running it --- */

typedef struct frame {
    int pc;   /* >= 0: resume here at sp; -1: restore slot to old */
    int slot;
    long sp;  /* or the old slot value */
} frame_t;

typedef struct vm {
    const st_regex_t *re;
    const char *s;
    long len;
    st_regex_mode_t mode;
    long steps;
    frame_t *stack;
    long depth, cap;
    long *slots; /* captures, then loop registers */
} vm_t;

static bool push(vm_t *vm, int pc, int slot, long sp) {
    if (vm->depth == vm->cap) {
        long cap = vm->cap ? vm->cap * 2 : 256;
        if (cap > ST_REGEX_STEPS_MAX * 2L) return false;
        frame_t *grown = realloc(vm->stack, (size_t)cap * sizeof *grown);
        if (!grown) return false;
        vm->stack = grown;
        vm->cap = cap;
    }
    vm->stack[vm->depth++] = (frame_t){pc, slot, sp};
    return true;
}

static bool is_line_end(char c) { return c == '\n' || c == '\r'; }

/* 1 match, 0 none, -1 budget. */
static int run(vm_t *vm, long start) {
    const inst_t *prog = vm->re->prog;
    int pc = 0;
    long sp = start;
    long base = vm->depth;
    for (;;) {
        if (++vm->steps > ST_REGEX_STEPS_MAX) return -1;
        const inst_t *in = &prog[pc];
        bool ok = true;
        switch (in->op) {
        case OP_CHAR: ok = sp < vm->len && (unsigned char)vm->s[sp] == in->arg; sp++; pc++; break;
        case OP_ANY: ok = sp < vm->len && !is_line_end(vm->s[sp]); sp++; pc++; break;
        case OP_CLASS: ok = sp < vm->len && has_bit(&vm->re->classes[in->arg], (unsigned char)vm->s[sp]); sp++; pc++; break;
        case OP_BOL: ok = sp == 0; pc++; break;
        case OP_EOL:
            /* Java's $ without MULTILINE: the end, or before a final line terminator. */
            ok = sp == vm->len || (sp == vm->len - 1 && is_line_end(vm->s[sp])) ||
                 (sp == vm->len - 2 && vm->s[sp] == '\r' && vm->s[sp + 1] == '\n');
            pc++;
            break;
        case OP_SAVE:
        case OP_MARK: {
            int slot = in->op == OP_SAVE ? in->arg : 2 * (vm->re->groups + 1) + in->arg;
            if (!push(vm, -1, slot, vm->slots[slot])) return -1;
            vm->slots[slot] = sp;
            pc++;
            break;
        }
        case OP_CHECK:
            /* Java's Loop: a zero-length iteration goes on with what follows
             * the loop instead of iterating again. */
            pc = vm->slots[2 * (vm->re->groups + 1) + in->arg] == sp ? in->x : pc + 1;
            break;
        case OP_SPLIT:
            if (!push(vm, in->y, 0, sp)) return -1;
            pc = in->x;
            break;
        case OP_JMP: pc = in->x; break;
        case OP_MATCH:
            if (vm->mode != ST_REGEX_MATCHES || sp == vm->len) return 1;
            ok = false;
            break;
        }
        if (ok) continue;
        /* Backtrack: undo saves down to the next branch. */
        for (;;) {
            if (vm->depth == base) return 0;
            frame_t f = vm->stack[--vm->depth];
            if (f.pc < 0) {
                vm->slots[f.slot] = f.sp;
                continue;
            }
            pc = f.pc;
            sp = f.sp;
            break;
        }
    }
}

st_regex_result_t st_regex_exec(const st_regex_t *re, const char *s, size_t len, size_t from, st_regex_mode_t mode,
                                st_regex_match_t *m) {
    int slot_count = 2 * (re->groups + 1) + re->loops;
    long slots[2 * (ST_REGEX_GROUPS_MAX + 1) + LOOPS_MAX];
    vm_t vm = {re, s, (long)len, mode, 0, NULL, 0, 0, slots};
    st_regex_result_t result = ST_REGEX_NO_MATCH;
    for (long start = (long)from; start <= (long)len; start++) {
        for (int i = 0; i < slot_count; i++) slots[i] = -1;
        vm.depth = 0;
        int r = run(&vm, start);
        if (r < 0) {
            result = ST_REGEX_BUDGET;
            break;
        }
        if (r > 0) {
            for (int g = 0; g <= re->groups; g++) {
                m->starts[g] = slots[2 * g];
                m->ends[g] = slots[2 * g + 1];
                if (m->starts[g] < 0 || m->ends[g] < 0) m->starts[g] = m->ends[g] = -1;
            }
            result = ST_REGEX_MATCH;
            break;
        }
        if (mode != ST_REGEX_FIND) break;
    }
    free(vm.stack);
    return result;
}
