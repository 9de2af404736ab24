#!/usr/bin/env python3
"""Strata's protocol code generator.

Reads the project's message definitions (protocol/defs/*.def) and writes
messages.h, messages.c (structs plus init/decode/encode/size for every
version) and messages_testfill.c (fills every field a version has with
pseudo-random values, for round-trip tests and fuzz seeds).

Definition syntax (two spaces of indent per nesting level):

    request Fetch key=1 versions=0-17 flexible=12+ [unstable]
      FieldName type versions [null=R] [tag=N] [default=V] [flex=none]
        SubField ...            # fields of an inline struct or []struct
      @struct Name versions     # a struct shared by several fields
        Field ...

Kinds: request, response, header, data, record (metadata log records).
Types: bool int8 int16 uint16 int32 int64 float64 uuid string bytes records,
a struct name, or []T. Versions: "N", "N-M", "N+", "none".
"""
import argparse
import os
import re
import sys

PRIMS = {
    "bool": ("bool", 1, "st_read_i8(r) != 0", "st_write_i8(w, (int8_t)(V ? 1 : 0))"),
    "int8": ("int8_t", 1, "st_read_i8(r)", "st_write_i8(w, V)"),
    "int16": ("int16_t", 2, "st_read_i16(r)", "st_write_i16(w, V)"),
    "uint16": ("uint16_t", 2, "st_read_u16(r)", "st_write_u16(w, V)"),
    "int32": ("int32_t", 4, "st_read_i32(r)", "st_write_i32(w, V)"),
    "int64": ("int64_t", 8, "st_read_i64(r)", "st_write_i64(w, V)"),
    "float64": ("double", 8, "st_read_f64(r)", "st_write_f64(w, V)"),
}
C_KEYWORDS = {"default", "int", "char", "long", "short", "const", "static", "struct", "union",
              "switch", "case", "for", "while", "do", "if", "else", "return", "register", "signed",
              "unsigned", "void", "volatile", "auto", "break", "continue", "enum", "extern",
              "float", "double", "goto", "sizeof", "typedef", "inline", "restrict", "bool"}
MAXV = 0x7FFF


class DefError(Exception):
    pass


def snake(name):
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    s = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", s)
    s = s.lower()
    return s + "_" if s in C_KEYWORDS else s


def parse_range(text):
    if text == "none":
        return None
    if text.endswith("+"):
        return (int(text[:-1]), MAXV)
    if "-" in text:
        lo, hi = text.split("-")
        return (int(lo), int(hi))
    return (int(text), int(text))


class Field:
    def __init__(self, name, type_, versions, attrs, where):
        self.name = name
        self.cname = snake(name)
        self.versions = parse_range(versions)
        if self.versions is None:
            raise DefError("%s: field %s has no versions" % (where, name))
        self.nullable = parse_range(attrs.get("null", "none"))
        self.tag = int(attrs["tag"]) if "tag" in attrs else None
        self.default = attrs.get("default")
        self.flex_none = attrs.get("flex") == "none"
        self.is_array = type_.startswith("[]")
        self.elem = type_[2:] if self.is_array else type_
        self.children = []
        self.struct = None  # resolved Struct for struct elements

    @property
    def elem_kind(self):
        if self.elem in PRIMS:
            return "prim"
        if self.elem in ("string", "bytes", "records", "uuid"):
            return self.elem
        return "struct"


class Struct:
    def __init__(self, msg, name, versions, fields):
        self.msg = msg
        self.name = name
        self.versions = versions
        self.fields = fields
        self.cname = "st_%s_%s" % (msg.cbase, snake(name)) if name != msg.name else "st_%s" % msg.cbase
        self.fn = self.cname[3:]


class Message:
    def __init__(self, kind, name, attrs, where):
        self.kind = kind
        self.name = name
        self.key = int(attrs["key"]) if "key" in attrs else None
        self.versions = parse_range(attrs["versions"])
        self.flexible = parse_range(attrs.get("flexible", "none"))
        self.unstable = "unstable" in attrs
        base = snake(name)
        self.cbase = base + ("_" + kind if kind in ("request", "response") else "")
        self.fields = []
        self.common = {}
        self.structs = []  # post-order: nested before users
        self.where = where


def tokenize_attrs(tokens):
    attrs = {}
    for t in tokens:
        if "=" in t:
            k, v = t.split("=", 1)
            attrs[k] = v
        else:
            attrs[t] = True
    return attrs


def parse_file(path):
    messages = []
    stack = []  # (indent, list to append fields to)
    msg = None
    for lineno, raw in enumerate(open(path), 1):
        line = raw.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = "%s:%d" % (path, lineno)
        indent = len(line) - len(line.lstrip(" "))
        if indent % 2:
            raise DefError("%s: odd indentation" % where)
        level = indent // 2
        toks = line.split()
        if level == 0:
            kind, name = toks[0], toks[1]
            if kind not in ("request", "response", "header", "data", "record"):
                raise DefError("%s: unknown kind %s" % (where, kind))
            msg = Message(kind, name, tokenize_attrs(toks[2:]), where)
            messages.append(msg)
            stack = [(0, msg.fields)]
            continue
        if msg is None:
            raise DefError("%s: field outside a message" % where)
        while stack and stack[-1][0] >= level:
            stack.pop()
        if not stack or stack[-1][0] != level - 1:
            raise DefError("%s: bad nesting" % where)
        if toks[0] == "@struct":
            fields = []
            msg.common[toks[1]] = (parse_range(toks[2]) if len(toks) > 2 else (0, MAXV), fields)
            stack.append((level, fields))
            continue
        if len(toks) < 3:
            raise DefError("%s: field needs name, type and versions" % where)
        f = Field(toks[0], toks[1], toks[2], tokenize_attrs(toks[3:]), where)
        stack[-1][1].append(f)
        stack.append((level, f.children))
    return messages


def resolve(msg):
    """Creates Struct objects for inline and common structs (post-order)."""
    common_done = {}

    def visit_fields(fields):
        for f in fields:
            if f.elem_kind != "struct":
                if f.children:
                    raise DefError("%s: %s has sub-fields but type %s" % (msg.where, f.name, f.elem))
                continue
            if f.children:
                visit_fields(f.children)
                s = Struct(msg, f.elem, f.versions, f.children)
                msg.structs.append(s)
                f.struct = s
            else:
                if f.elem not in msg.common:
                    raise DefError("%s: unknown struct type %s" % (msg.where, f.elem))
                if f.elem not in common_done:
                    vers, cfields = msg.common[f.elem]
                    visit_fields(cfields)
                    s = Struct(msg, f.elem, vers, cfields)
                    msg.structs.append(s)
                    common_done[f.elem] = s
                f.struct = common_done[f.elem]
            if f.nullable and not f.is_array and f.tag is None:
                raise DefError("%s: nullable struct %s is not supported" % (msg.where, f.name))

    visit_fields(msg.fields)
    top = Struct(msg, msg.name, msg.versions, msg.fields)
    msg.structs.append(top)
    msg.top = top
    names = {}
    for s in msg.structs:
        if s.cname in names and names[s.cname] is not s:
            raise DefError("%s: two structs named %s" % (msg.where, s.name))
        names[s.cname] = s


def vcond(rng, var="v"):
    lo, hi = rng
    parts = []
    if lo > 0:
        parts.append("%s >= %d" % (var, lo))
    if hi < MAXV:
        parts.append("%s <= %d" % (var, hi))
    return " && ".join(parts) if parts else "true"


def ctype(f):
    k = f.elem_kind
    if k == "prim":
        return PRIMS[f.elem][0]
    if k == "string":
        return "st_str_t"
    if k == "bytes":
        return "st_bytes_t"
    if k == "records":
        return "st_records_t"
    if k == "uuid":
        return "st_uuid_t"
    return f.struct.cname + "_t"


def c_default_value(f):
    """C expression for a scalar field's default."""
    d = f.default
    k = f.elem_kind
    if k == "prim":
        if f.elem == "bool":
            return "true" if d == "true" else "false"
        if d is None:
            return "0"
        if d.lower().startswith("0x") or d.lower().startswith("-0x"):
            val = int(d, 16)
        else:
            val = int(float(d)) if f.elem != "float64" else float(d)
        if f.elem == "int64":
            return "INT64_C(%d)" % val
        return repr(val)
    if k == "string":
        if d == "null":
            return "st_str_null()"
        lit = "" if d in (None, '""') else d
        return 'st_str("%s")' % lit
    return None


class Gen:
    def __init__(self):
        self.h = []
        self.c = []
        self.t = []

    def msg(self, m):
        flexcond = vcond(m.flexible) if m.flexible else "false"
        for s in m.structs:
            self.struct_decl(s)
        for s in m.structs:
            self.init_fn(s)
            self.is_default_fn(s)
            self.minsize_fn(s)
        for s in m.structs:
            self.decode_fn(s, flexcond)
            self.encode_fn(s, flexcond)
            self.size_fn(s, flexcond)
            self.fill_fn(s)
        top = m.top
        n = top.cname
        self.h.append("void %s_init(%s_t *m);" % (n, n))
        self.h.append("/* Decodes version v; strings and arrays live in arena a. Returns 0 or ST_ERR_DECODE. */")
        self.h.append("int %s_decode(st_reader_t *r, st_arena_t *a, int16_t v, %s_t *m);" % (n, n))
        self.h.append("void %s_encode(st_writer_t *w, int16_t v, const %s_t *m);" % (n, n))
        self.h.append("size_t %s_size(int16_t v, const %s_t *m);" % (n, n))
        self.h.append("void %s_testfill(%s_t *m, st_arena_t *a, int16_t v, uint32_t *seed);" % (n, n))
        self.h.append("")
        fn = top.fn
        self.c.append("""void %(n)s_init(%(n)s_t *m) { init_%(fn)s(m); }
int %(n)s_decode(st_reader_t *r, st_arena_t *a, int16_t v, %(n)s_t *m) {
    init_%(fn)s(m);
    dec_%(fn)s(r, a, v, m);
    return r->failed ? ST_ERR_DECODE : 0;
}
void %(n)s_encode(st_writer_t *w, int16_t v, const %(n)s_t *m) { enc_%(fn)s(w, v, m); }
size_t %(n)s_size(int16_t v, const %(n)s_t *m) { return size_%(fn)s(v, m); }
static void init_any_%(fn)s(void *m) { init_%(fn)s(m); }
static int dec_any_%(fn)s(st_reader_t *r, st_arena_t *a, int16_t v, void *m) { return %(n)s_decode(r, a, v, m); }
static void enc_any_%(fn)s(st_writer_t *w, int16_t v, const void *m) { enc_%(fn)s(w, v, m); }
static size_t size_any_%(fn)s(int16_t v, const void *m) { return size_%(fn)s(v, m); }
""" % {"n": n, "fn": fn})
        self.t.append("void %(n)s_testfill(%(n)s_t *m, st_arena_t *a, int16_t v, uint32_t *seed) {\n"
                      "    init_%(fn)s(m);\n    fill_%(fn)s(m, a, v, seed);\n}\n"
                      "static void fill_any_%(fn)s(void *m, st_arena_t *a, int16_t v, uint32_t *seed) "
                      "{ %(n)s_testfill(m, a, v, seed); }\n" % {"n": n, "fn": fn})

    def struct_decl(self, s):
        self.h.append("typedef struct %s {" % s.cname)
        if not s.fields:
            self.h.append("    char unused_;")
        for f in s.fields:
            t = ctype(f)
            vers = "%d+" % f.versions[0] if f.versions[1] == MAXV else "%d-%d" % f.versions
            note = "v" + vers
            if f.tag is not None:
                note += ", tag %d" % f.tag
            if f.is_array:
                self.h.append("    %s *%s; /* %s */" % (t, f.cname, note))
                self.h.append("    int32_t %s_count; /* -1: null */" % f.cname)
            else:
                self.h.append("    %s %s; /* %s */" % (t, f.cname, note))
        self.h.append("} %s_t;" % s.cname)
        self.h.append("")

    def init_fn(self, s):
        out = ["static void init_%s(%s_t *m) {" % (s.fn, s.cname), "    memset(m, 0, sizeof *m);"]
        for f in s.fields:
            k = f.elem_kind
            if f.is_array:
                if f.default == "null":
                    out.append("    m->%s_count = -1;" % f.cname)
                continue
            if k == "struct":
                out.append("    init_%s(&m->%s);" % (f.struct.fn, f.cname))
            elif k in ("prim", "string"):
                dv = c_default_value(f)
                if dv not in ("0", "false", "0.0"):
                    out.append("    m->%s = %s;" % (f.cname, dv))
            elif k in ("bytes", "records"):
                if f.default == "null" or (k == "records" and f.nullable):
                    out.append("    m->%s.len = -1;" % f.cname)
                if k == "records":
                    out.append("    m->%s.fd = -1;" % f.cname)
        out.append("}")
        self.c.append("\n".join(out) + "\n")

    def is_default_fn(self, s):
        out = ["static bool is_default_%s(const %s_t *m) {" % (s.fn, s.cname), "    (void)m;"]
        for f in s.fields:
            k = f.elem_kind
            if f.is_array:
                dflt = -1 if f.default == "null" else 0
                out.append("    if (m->%s_count != %d) return false;" % (f.cname, dflt))
            elif k == "struct":
                out.append("    if (!is_default_%s(&m->%s)) return false;" % (f.struct.fn, f.cname))
            elif k == "prim":
                out.append("    if (m->%s != %s) return false;" % (f.cname, c_default_value(f)))
            elif k == "string":
                if f.default == "null":
                    out.append("    if (m->%s.len >= 0) return false;" % f.cname)
                else:
                    lit = "" if f.default in (None, '""') else f.default
                    out.append('    if (!st_str_eq(m->%s, "%s")) return false;' % (f.cname, lit))
            elif k == "uuid":
                out.append("    if (!st_uuid_is_zero(&m->%s)) return false;" % f.cname)
            elif k in ("bytes", "records"):
                dflt = -1 if f.default == "null" else 0
                out.append("    if (m->%s.len != %d) return false;" % (f.cname, dflt))
        out.append("    return true;\n}")
        self.c.append("\n".join(out) + "\n")

    def minsize_fn(self, s):
        """Smallest encoding of the struct in version v: bounds array counts."""
        flex = vcond(s.msg.flexible) if s.msg.flexible else "false"
        out = ["static size_t minsize_%s(int16_t v) {" % s.fn, "    size_t n = (%s) ? 1 : 0;" % flex]
        for f in s.fields:
            if f.tag is not None:
                continue
            k = f.elem_kind
            if f.is_array:
                sz = "((%s) ? 1 : 4)" % flex
            elif k == "prim":
                sz = str(PRIMS[f.elem][1])
            elif k == "uuid":
                sz = "16"
            elif k == "string":
                sz = "((%s) ? 1 : 2)" % flex
            elif k in ("bytes", "records"):
                sz = "((%s) ? 1 : 4)" % flex
            else:
                sz = "minsize_%s(v)" % f.struct.fn
            out.append("    if (%s) n += %s;" % (vcond(f.versions), sz))
        out.append("    (void)v;\n    return n;\n}")
        self.c.append("\n".join(out) + "\n")

    def compact_expr(self, f):
        return "false" if f.flex_none else "flex"

    def read_scalar(self, f, target, ind):
        k = f.elem_kind
        nullable = vcond(f.nullable) if f.nullable else "false"
        cx = self.compact_expr(f)
        if k == "prim":
            return ["%s%s = %s;" % (ind, target, PRIMS[f.elem][2])]
        if k == "string":
            return ["%s%s = st_codec_read_str(r, a, %s, %s);" % (ind, target, cx, nullable)]
        if k == "bytes":
            return ["%s%s = st_codec_read_bytes(r, a, %s, %s);" % (ind, target, cx, nullable)]
        if k == "records":
            return ["%s%s = st_codec_read_records(r, %s, %s);" % (ind, target, cx, nullable)]
        if k == "uuid":
            return ["%s{ const uint8_t *u_ = st_read_bytes(r, 16); if (u_) memcpy(%s.bytes, u_, 16); }"
                    % (ind, target)]
        return ["%sinit_%s(&%s);" % (ind, f.struct.fn, target),
                "%sdec_%s(r, a, v, &%s);" % (ind, f.struct.fn, target)]

    def read_field(self, f, ind):
        out = []
        if f.is_array:
            nullable = vcond(f.nullable) if f.nullable else "false"
            cx = self.compact_expr(f)
            if f.elem_kind == "prim":
                ms = str(PRIMS[f.elem][1])
            elif f.elem_kind == "uuid":
                ms = "16"
            elif f.elem_kind == "struct":
                ms = "minsize_%s(v)" % f.struct.fn
            else:
                ms = "1"
            out.append("%s{" % ind)
            out.append("%s    int32_t n_ = st_codec_read_array_len(r, %s, %s, %s);" % (ind, cx, nullable, ms))
            out.append("%s    m->%s_count = n_;" % (ind, f.cname))
            out.append("%s    m->%s = NULL;" % (ind, f.cname))
            out.append("%s    if (n_ > 0) {" % ind)
            out.append("%s        m->%s = st_arena_alloc(a, (size_t)n_ * sizeof *m->%s);" % (ind, f.cname, f.cname))
            out.append("%s        for (int32_t i_ = 0; i_ < n_ && !r->failed; i_++) {" % ind)
            out += self.read_scalar(f, "m->%s[i_]" % f.cname, ind + "            ")
            out.append("%s        }" % ind)
            out.append("%s    }" % ind)
            out.append("%s}" % ind)
        else:
            out += self.read_scalar(f, "m->%s" % f.cname, ind)
        return out

    def decode_fn(self, s, flexcond):
        out = ["static void dec_%s(st_reader_t *r, st_arena_t *a, int16_t v, %s_t *m) {" % (s.fn, s.cname),
               "    const bool flex = %s;" % flexcond,
               "    (void)a; (void)v; (void)flex;"]
        tagged = [f for f in s.fields if f.tag is not None]
        for f in s.fields:
            if f.tag is not None:
                continue
            out.append("    if (%s) {" % vcond(f.versions))
            out += self.read_field(f, "        ")
            out.append("    }")
        out.append("    if (flex && !r->failed) {")
        if not tagged:
            out.append("        st_codec_skip_tagged(r);")
        else:
            out.append("        uint32_t count_ = st_read_uvarint(r);")
            out.append("        for (uint32_t t_ = 0; t_ < count_ && !r->failed; t_++) {")
            out.append("            uint32_t tag_ = st_read_uvarint(r);")
            out.append("            uint32_t size_ = st_read_uvarint(r);")
            out.append("            const uint8_t *p_ = st_read_bytes(r, size_);")
            out.append("            if (!p_) break;")
            out.append("            st_reader_t outer_ = *r;")
            out.append("            st_reader_init(r, p_, size_);")
            out.append("            switch (tag_) {")
            for f in sorted(tagged, key=lambda x: x.tag):
                out.append("            case %d:" % f.tag)
                out.append("                if (%s) {" % vcond(f.versions))
                out += self.read_field(f, "                    ")
                out.append("                }")
                out.append("                break;")
            out.append("            default: break; /* unknown tags are skipped */")
            out.append("            }")
            out.append("            bool failed_ = r->failed;")
            out.append("            *r = outer_;")
            out.append("            r->failed = failed_;")
            out.append("        }")
        out.append("    }")
        out.append("}")
        self.c.append("\n".join(out) + "\n")

    def write_scalar(self, f, src, ind):
        k = f.elem_kind
        cx = self.compact_expr(f)
        if k == "prim":
            return ["%s%s;" % (ind, PRIMS[f.elem][3].replace("V", src))]
        if k == "string":
            return ["%sst_codec_write_str(w, %s, %s);" % (ind, src, cx)]
        if k == "bytes":
            return ["%sst_codec_write_bytes(w, %s, %s);" % (ind, src, cx)]
        if k == "records":
            return ["%sst_codec_write_records(w, &%s, %s);" % (ind, src, cx)]
        if k == "uuid":
            return ["%sst_write_raw(w, %s.bytes, 16);" % (ind, src)]
        return ["%senc_%s(w, v, &%s);" % (ind, f.struct.fn, src)]

    def write_field(self, f, ind):
        if not f.is_array:
            return self.write_scalar(f, "m->%s" % f.cname, ind)
        cx = self.compact_expr(f)
        out = ["%sst_codec_write_array_len(w, m->%s_count, %s);" % (ind, f.cname, cx),
               "%sfor (int32_t i_ = 0; i_ < m->%s_count; i_++) {" % (ind, f.cname)]
        out += self.write_scalar(f, "m->%s[i_]" % f.cname, ind + "    ")
        out.append("%s}" % ind)
        return out

    def size_scalar(self, f, src):
        k = f.elem_kind
        cx = self.compact_expr(f)
        if k == "prim":
            return str(PRIMS[f.elem][1])
        if k == "string":
            return "st_codec_str_size(%s, %s)" % (src, cx)
        if k == "bytes":
            return "st_codec_bytes_size(%s, %s)" % (src, cx)
        if k == "records":
            return "st_codec_records_size(&%s, %s)" % (src, cx)
        if k == "uuid":
            return "16"
        return "size_%s(v, &%s)" % (f.struct.fn, src)

    def size_field(self, f, ind, acc):
        if not f.is_array:
            return ["%s%s += %s;" % (ind, acc, self.size_scalar(f, "m->%s" % f.cname))]
        cx = self.compact_expr(f)
        out = ["%s%s += st_codec_array_len_size(m->%s_count, %s);" % (ind, acc, f.cname, cx),
               "%sfor (int32_t i_ = 0; i_ < m->%s_count; i_++) %s += %s;"
               % (ind, f.cname, acc, self.size_scalar(f, "m->%s[i_]" % f.cname))]
        return out

    def tag_present(self, f):
        k = f.elem_kind
        if f.is_array:
            return "m->%s_count != %d" % (f.cname, -1 if f.default == "null" else 0)
        if k == "struct":
            return "!is_default_%s(&m->%s)" % (f.struct.fn, f.cname)
        if k == "prim":
            return "m->%s != %s" % (f.cname, c_default_value(f))
        if k == "string":
            if f.default == "null":
                return "m->%s.len >= 0" % f.cname
            lit = "" if f.default in (None, '""') else f.default
            return '!st_str_eq(m->%s, "%s")' % (f.cname, lit)
        if k == "uuid":
            return "!st_uuid_is_zero(&m->%s)" % f.cname
        return "m->%s.len != %d" % (f.cname, -1 if f.default == "null" else 0)

    def field_size_fn(self, s, f):
        """A helper giving one tagged field's encoded size."""
        out = ["static size_t tagsize_%s_%s(int16_t v, const %s_t *m) {" % (s.fn, f.cname, s.cname),
               "    const bool flex = true;", "    size_t n = 0;", "    (void)v; (void)m; (void)flex;"]
        out += self.size_field(f, "    ", "n")
        out.append("    return n;\n}")
        return "\n".join(out) + "\n"

    def encode_fn(self, s, flexcond):
        tagged = sorted([f for f in s.fields if f.tag is not None], key=lambda x: x.tag)
        pre = []
        for f in tagged:
            pre.append(self.field_size_fn(s, f))
        self.c.append("static size_t size_%s(int16_t v, const %s_t *m);\n" % (s.fn, s.cname) + "".join(pre))
        out = ["static void enc_%s(st_writer_t *w, int16_t v, const %s_t *m) {" % (s.fn, s.cname),
               "    const bool flex = %s;" % flexcond, "    (void)v; (void)m; (void)flex;"]
        for f in s.fields:
            if f.tag is not None:
                continue
            out.append("    if (%s) {" % vcond(f.versions))
            out += self.write_field(f, "        ")
            out.append("    }")
        out.append("    if (flex) {")
        if not tagged:
            out.append("        st_write_uvarint(w, 0);")
        else:
            out.append("        uint32_t count_ = 0;")
            for f in tagged:
                out.append("        if ((%s) && %s) count_++;" % (vcond(f.versions), self.tag_present(f)))
            out.append("        st_write_uvarint(w, count_);")
            for f in tagged:
                out.append("        if ((%s) && %s) {" % (vcond(f.versions), self.tag_present(f)))
                out.append("            st_write_uvarint(w, %d);" % f.tag)
                out.append("            st_write_uvarint(w, (uint32_t)tagsize_%s_%s(v, m));" % (s.fn, f.cname))
                out += self.write_field(f, "            ")
                out.append("        }")
        out.append("    }")
        out.append("}")
        self.c.append("\n".join(out) + "\n")

    def size_fn(self, s, flexcond):
        tagged = sorted([f for f in s.fields if f.tag is not None], key=lambda x: x.tag)
        out = ["static size_t size_%s(int16_t v, const %s_t *m) {" % (s.fn, s.cname),
               "    const bool flex = %s;" % flexcond, "    size_t n = 0;", "    (void)v; (void)m; (void)flex;"]
        for f in s.fields:
            if f.tag is not None:
                continue
            out.append("    if (%s) {" % vcond(f.versions))
            out += self.size_field(f, "        ", "n")
            out.append("    }")
        out.append("    if (flex) {")
        out.append("        uint32_t count_ = 0;")
        for f in tagged:
            out.append("        if ((%s) && %s) {" % (vcond(f.versions), self.tag_present(f)))
            out.append("            size_t t_ = tagsize_%s_%s(v, m);" % (s.fn, f.cname))
            out.append("            count_++;")
            out.append("            n += st_uvarint_size(%d) + st_uvarint_size((uint32_t)t_) + t_;" % f.tag)
            out.append("        }")
        out.append("        n += st_uvarint_size(count_);")
        out.append("    }")
        out.append("    return n;\n}")
        self.c.append("\n".join(out) + "\n")

    def fill_scalar(self, f, target, ind, nullable):
        k = f.elem_kind
        if k == "prim":
            if f.elem == "bool":
                return ["%s%s = (test_rand(seed) & 1) != 0;" % (ind, target)]
            if f.elem == "float64":
                return ["%s%s = (double)test_rand(seed) / 7.0;" % (ind, target)]
            return ["%s%s = (%s)test_rand64(seed);" % (ind, target, PRIMS[f.elem][0])]
        if k == "string":
            return ["%s%s = test_str(a, seed, %s);" % (ind, target, nullable)]
        if k in ("bytes", "records"):
            return ["%s{ st_bytes_t b_ = test_bytes(a, seed, %s); %s.ptr = b_.ptr; %s.len = b_.len; }"
                    % (ind, nullable, target, target)]
        if k == "uuid":
            return ["%sfor (int k_ = 0; k_ < 16; k_++) %s.bytes[k_] = (uint8_t)test_rand(seed);" % (ind, target)]
        return ["%sfill_%s(&%s, a, v, seed);" % (ind, f.struct.fn, target)]

    def fill_fn(self, s):
        out = ["static void fill_%s(%s_t *m, st_arena_t *a, int16_t v, uint32_t *seed) {" % (s.fn, s.cname),
               "    (void)a; (void)v; (void)seed;"]
        for f in s.fields:
            nullable = "(%s)" % vcond(f.nullable) if f.nullable else "false"
            out.append("    if (%s) {" % vcond(f.versions))
            if f.is_array:
                out.append("        int32_t n_ = (int32_t)(test_rand(seed) % 3);")
                out.append("        if (%s && test_rand(seed) %% 4 == 0) n_ = -1;" % nullable)
                out.append("        m->%s_count = n_;" % f.cname)
                out.append("        if (n_ > 0) m->%s = st_arena_alloc(a, (size_t)n_ * sizeof *m->%s);"
                           % (f.cname, f.cname))
                out.append("        for (int32_t i_ = 0; i_ < n_; i_++) {")
                if f.elem_kind == "struct":
                    out.append("            init_%s(&m->%s[i_]);" % (f.struct.fn, f.cname))
                out += self.fill_scalar(f, "m->%s[i_]" % f.cname, "            ", "false")
                out.append("        }")
            else:
                out += self.fill_scalar(f, "m->%s" % f.cname, "        ", nullable)
            out.append("    }")
        out.append("}")
        self.t.append("\n".join(out) + "\n")


def emit(messages, out_dir):
    g = Gen()
    for m in messages:
        g.msg(m)
    apis = {}
    for m in messages:
        if m.kind in ("request", "response"):
            apis.setdefault(m.key, {})[m.kind] = m
    for key, pair in apis.items():
        if set(pair) != {"request", "response"}:
            raise DefError("API %d lacks a request or a response" % key)
        rq, rs = pair["request"], pair["response"]
        if rq.versions != rs.versions or rq.flexible != rs.flexible:
            raise DefError("API %s: request and response versions differ" % rq.name)

    h = ["/* Generated by tools/protogen.py from protocol/defs: do not edit. */",
         "#ifndef ST_PROTOCOL_MESSAGES_H", "#define ST_PROTOCOL_MESSAGES_H", "",
         "#include <stdbool.h>", "#include <stddef.h>", "#include <stdint.h>", "",
         '#include "protocol/codec.h"', '#include "common/errors.h"', ""]
    h.append("""/* One API as the spec defines it: its valid versions and the typed
 * entry points of its request and response. */
typedef struct st_api_info {
    const char *name;
    int16_t api_key;
    int16_t min_version;
    int16_t max_version;      /* newest stable version */
    int16_t flexible_min;     /* -1: never flexible */
    size_t request_bytes;     /* sizeof the request struct */
    size_t response_bytes;
    void (*request_init)(void *m);
    int (*request_decode)(st_reader_t *r, st_arena_t *a, int16_t v, void *m);
    void (*request_encode)(st_writer_t *w, int16_t v, const void *m);
    size_t (*request_size)(int16_t v, const void *m);
    void (*response_init)(void *m);
    int (*response_decode)(st_reader_t *r, st_arena_t *a, int16_t v, void *m);
    void (*response_encode)(st_writer_t *w, int16_t v, const void *m);
    size_t (*response_size)(int16_t v, const void *m);
} st_api_info_t;

/* Fills every field of version v with pseudo-random values (tests). */
typedef struct st_api_testfill {
    int16_t api_key;
    void (*request_fill)(void *m, st_arena_t *a, int16_t v, uint32_t *seed);
    void (*response_fill)(void *m, st_arena_t *a, int16_t v, uint32_t *seed);
} st_api_testfill_t;

extern const st_api_info_t st_api_infos[];
extern const int st_api_info_count;
extern const st_api_testfill_t st_api_testfills[];
/* NULL when the key is not defined. */
const st_api_info_t *st_api_info_find(int16_t api_key);
const char *st_api_name(int16_t api_key);
""")
    for key in sorted(apis):
        h.append("#define ST_API_%s %d" % (snake(apis[key]["request"].name).upper(), key))
    h.append("")
    h += g.h
    h.append("#endif")

    c = ["/* Generated by tools/protogen.py from protocol/defs: do not edit. */",
         "#pragma GCC diagnostic ignored \"-Wunused-function\"",
         '#include "protocol/messages.h"', "", "#include <string.h>", ""]
    c += g.c
    c.append("const st_api_info_t st_api_infos[] = {")
    for key in sorted(apis):
        rq, rs = apis[key]["request"], apis[key]["response"]
        maxv = rq.versions[1] - (1 if rq.unstable else 0)
        flex = rq.flexible[0] if rq.flexible else -1
        c.append('    {"%s", %d, %d, %d, %d, sizeof(%s_t), sizeof(%s_t),' %
                 (rq.name, key, rq.versions[0], maxv, flex, rq.top.cname, rs.top.cname))
        c.append("     init_any_%s, dec_any_%s, enc_any_%s, size_any_%s," % ((rq.top.fn,) * 4))
        c.append("     init_any_%s, dec_any_%s, enc_any_%s, size_any_%s}," % ((rs.top.fn,) * 4))
    c.append("};")
    c.append("const int st_api_info_count = %d;" % len(apis))
    c.append("""
const st_api_info_t *st_api_info_find(int16_t api_key) {
    for (int i = 0; i < st_api_info_count; i++)
        if (st_api_infos[i].api_key == api_key) return &st_api_infos[i];
    return NULL;
}

const char *st_api_name(int16_t api_key) {
    const st_api_info_t *info = st_api_info_find(api_key);
    return info ? info->name : "Unknown";
}""")

    t = ["/* Generated by tools/protogen.py from protocol/defs: do not edit. */",
         "/* Test-only: random message contents for round-trip tests and fuzz seeds. */",
         "#pragma GCC diagnostic ignored \"-Wunused-function\"",
         "#include <string.h>", "",
         "#include \"protocol/messages.h\"", "",
         """static uint32_t test_rand(uint32_t *seed) {
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 8) & 0xffffff;
}
static uint64_t test_rand64(uint32_t *seed) {
    uint64_t hi = test_rand(seed), lo = test_rand(seed);
    return (hi << 40) ^ (lo << 8) ^ test_rand(seed);
}
static st_str_t test_str(st_arena_t *a, uint32_t *seed, bool nullable) {
    if (nullable && test_rand(seed) % 4 == 0) return st_str_null();
    int32_t n = (int32_t)(test_rand(seed) % 6);
    char *s = st_arena_alloc(a, (size_t)n + 1);
    for (int32_t i = 0; i < n; i++) s[i] = (char)('a' + test_rand(seed) % 26);
    return (st_str_t){s, n};
}
static st_bytes_t test_bytes(st_arena_t *a, uint32_t *seed, bool nullable) {
    if (nullable && test_rand(seed) % 4 == 0) return (st_bytes_t){NULL, -1};
    int32_t n = (int32_t)(test_rand(seed) % 9);
    uint8_t *b = st_arena_alloc(a, (size_t)n + 1);
    for (int32_t i = 0; i < n; i++) b[i] = (uint8_t)test_rand(seed);
    return (st_bytes_t){b, n};
}
"""]
    # testfill needs the static init functions: include them through a
    # second copy of the struct initialisers (generated as static in both
    # files to keep messages.c free of test code).
    t += [x for x in g.c if x.startswith("static void init_")]
    t += g.t
    t.append("const st_api_testfill_t st_api_testfills[] = {")
    for key in sorted(apis):
        rq, rs = apis[key]["request"], apis[key]["response"]
        t.append("    {%d, fill_any_%s, fill_any_%s}," % (key, rq.top.fn, rs.top.fn))
    t.append("    {-1, NULL, NULL},")
    t.append("};")

    for name, lines in (("messages.h", h), ("messages.c", c), ("messages_testfill.c", t)):
        path = os.path.join(out_dir, name)
        text = "\n".join(lines) + "\n"
        try:
            if open(path).read() == text:
                continue
        except OSError:
            pass
        with open(path, "w") as f:
            f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("defs", nargs="+")
    args = ap.parse_args()
    messages = []
    try:
        for path in args.defs:
            messages += parse_file(path)
        for m in messages:
            resolve(m)
        emit(messages, args.out_dir)
    except DefError as e:
        print("protogen: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
