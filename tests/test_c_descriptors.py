"""The C layer descriptors: the planner's field lists (dnnc.backends.c.plan) match the structs of
runtime/dnnc_layers.h field by field, and the generated model.c initializes exactly those fields."""

from __future__ import annotations

import re

import pytest
from dnnc.backends.c import compile as compile_c
from dnnc.backends.c.plan import CONV_FIELDS, DENSE_U8_FIELDS
from dnnc.frontend import from_net
from dnnc.resources import resource_dir
from dnnc.targets import load_target
from models import conv_model, dense_model

DESCRIPTORS = {"dnnc_conv_t": CONV_FIELDS, "dnnc_dense_u8_t": DENSE_U8_FIELDS}


def struct_fields(header: str, name: str) -> list[tuple[str, bool]]:
    """(field, is_pointer) of `typedef struct { ... } name;` in C source, in declaration order."""
    text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", header, flags=re.DOTALL)
    m = re.search(r"typedef\s+struct\s*\w*\s*\{(?P<body>[^{}]*)\}\s*" + re.escape(name) + r"\s*;", text)
    assert m, f"no typedef struct {name}"
    fields = []
    for decl in filter(None, (d.strip() for d in m["body"].split(";"))):
        d = re.fullmatch(r"(?:const\s+)?\w+\s+(?P<names>[\w\s,*]+)", decl)
        assert d, f"{name}: cannot parse declaration {decl!r}"
        for declarator in d["names"].split(","):
            field = declarator.replace("*", "").strip()
            assert re.fullmatch(r"[A-Za-z_]\w*", field), f"{name}: bad declarator {declarator!r}"
            fields.append((field, "*" in declarator))
    return fields


def mismatches(header: str, name: str, fields: dict) -> list[str]:
    """Differences between a C struct and a planner field list (order, names, pointer vs integer)."""
    c = struct_fields(header, name)
    py = [(k, v == "NULL") for k, v in fields.items()]
    if [f for f, _ in c] != [f for f, _ in py]:
        return [f"{name}: header fields {[f for f, _ in c]} != planner fields {[f for f, _ in py]}"]
    return [f"{name}.{f}: {'pointer' if cp else 'integer'} in C, default {fields[f]!r} in the planner"
            for (f, cp), (_, pp) in zip(c, py) if cp != pp]


@pytest.mark.parametrize("name", DESCRIPTORS)
def test_planner_fields_match_the_runtime_struct(name):
    header = (resource_dir("runtime") / "dnnc_layers.h").read_text()
    assert mismatches(header, name, DESCRIPTORS[name]) == []


def test_the_check_sees_a_changed_struct():
    """Reordered, renamed, missing and retyped fields are all reported."""
    header = (resource_dir("runtime") / "dnnc_layers.h").read_text()
    swapped = header.replace("int32_t in_c, in_h, in_w, out_c,", "int32_t in_h, in_c, in_w, out_c,")
    assert mismatches(swapped, "dnnc_conv_t", CONV_FIELDS)
    dropped = header.replace("    int32_t kq;", "")
    assert mismatches(dropped, "dnnc_conv_t", CONV_FIELDS)
    retyped = header.replace("const int8_t *values;", "int32_t values;")
    assert mismatches(retyped, "dnnc_dense_u8_t", DENSE_U8_FIELDS) == [
        "dnnc_dense_u8_t.values: integer in C, default 'NULL' in the planner"]


@pytest.mark.parametrize("factory,struct", [(conv_model, "dnnc_conv_t"), (dense_model, "dnnc_dense_u8_t")])
def test_generated_initializers_name_every_field_in_order(tmp_path, factory, struct):
    target = load_target("cortex-m4")
    compile_c(from_net(factory("ternary"), "m").ir, target, tmp_path)
    source = (tmp_path / "model.c").read_text()
    blocks = re.findall(r"static const " + struct + r" \w+ = \{\n(.*?)\n\};", source, flags=re.DOTALL)
    assert blocks, f"no {struct} descriptor in model.c"
    for block in blocks:
        names = re.findall(r"^\s+\.(\w+) = [^,\n]+,$", block, flags=re.MULTILINE)
        assert names == list(DESCRIPTORS[struct]) and len(names) == len(block.splitlines())
