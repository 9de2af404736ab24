#!/usr/bin/env python3
"""Writes docs/configuration.md from the config tables in common/config_keys.c,
so the reference cannot drift from what the broker accepts.
Usage: tools/config_doc.py > docs/configuration.md"""
import re
import sys
import os

src = open(os.path.join(os.path.dirname(__file__), "..", "common", "config_keys.c")).read()
header = open(os.path.join(os.path.dirname(__file__), "..", "common", "limits.h")).read()
MACROS = dict(re.findall(r"#define (ST_CONFIG_DEFAULT_\w+) (\S+)", header))
# config_keys.c's own spellings of Integer.MAX_VALUE / Long.MAX_VALUE defaults.
MACROS.update(re.findall(r'#define (\w+_MAX_STR) "(\d+)"', src))
TYPES = {"T_INT": "int", "T_LONG": "long", "T_STR": "string", "T_LIST": "list", "T_BOOL": "boolean",
         "T_DBL": "double", "T_PASS": "password", "T_SHORT": "short"}


def table(name):
    m = re.search(r"const \w+ %s\[\] = \{(.*?)\n\};" % name, src, re.S)
    return m.group(1) if m else ""


def cell(s):
    return s.replace("|", "\\|")


print("# Configuration\n")
print("`strata-server <server.properties> [--override key=value ...]` reads Kafka's")
print("`server.properties` format (`key=value` or `key: value`, `#`/`!` comments,")
print("backslash continuations); overrides win. Names and defaults are Kafka's;")
print("keys Strata does not know are logged once at start and otherwise ignored.")
print("This page is generated from `common/config_keys.c` by `tools/config_doc.py`.\n")
print("Without a file it prints its usage and exits 2; `--version` prints the")
print("version. The start stops, with one line saying why and exit code 1, when")
print("`node.id` is missing, when a listener's security protocol is not PLAINTEXT")
print("(TLS and SASL are not implemented yet), when `listeners` names more than one")
print("client listener, or when a log dir is in use: each is locked")
print("(`<dir>/.lock`, as Kafka does) for the life of the process. A start that")
print("fails before it opens the logs (configuration, lock, a port in use) changes")
print("nothing on disk.\n")
print("## Broker\n")
print("| key | type | default | meaning |")
print("|---|---|---|---|")
for m in re.finditer(r'\{"([^"]+)", (T_\w+), ("(?:[^"\\]|\\.)*"|NULL|STR\(\w+\)|\w+_MAX_STR), [^"]*?"((?:[^"\\]|\\.)*)"\}', table("config_broker_keys")):
    key, typ, default, doc = m.groups()
    if default.startswith("STR("):
        default = MACROS[default[4:-1]]
    elif default.endswith("_MAX_STR"):
        default = MACROS[default]
    default = "" if default == "NULL" else default.strip('"')
    print("| `%s` | %s | `%s` | %s |" % (key, TYPES.get(typ, typ), cell(default), cell(doc)))
print("\n## Topic (CreateTopics `--config`, AlterConfigs)\n")
print("Each topic key defaults to the broker key it is a synonym of.\n")
print("| key | type | broker default from | meaning |")
print("|---|---|---|---|")
for m in re.finditer(r'\{\{"([^"]+)", (T_\w+), [^"]*?"((?:[^"\\]|\\.)*)"\}, \{([^}]*)\}', table("config_topic_keys")):
    key, typ, doc, syn = m.groups()
    syns = ", ".join("`%s`" % s.strip().strip('"') for s in syn.split(",") if s.strip())
    print("| `%s` | %s | %s | %s |" % (key, TYPES.get(typ, typ), syns, cell(doc)))
