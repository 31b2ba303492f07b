"""The YAML dialect of scenario files and data tables: PyYAML's safe loader, with duplicate
keys refused, and booleans and floats read as YAML 1.2 does (only true/false are booleans;
1e9 is a number)."""

from __future__ import annotations

import re
from typing import Any

import yaml


class ScenarioLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, and reads booleans and floats as YAML 1.2 does.

    YAML 1.1 takes `on`, `off`, `yes` and `no` for booleans, which would turn the key `on:`
    of a technology into True; only `true` and `false` are booleans here.  YAML 1.1 floats
    need a dot and a signed exponent, so PyYAML reads `1e9` and `3.6e9` as text; here they
    are numbers, as in YAML 1.2 (and JSON).
    """


_BOOL = "tag:yaml.org,2002:bool"
_FLOAT = "tag:yaml.org,2002:float"
# YAML 1.2 core schema floats, with PyYAML's digit separators (1_000.5) kept. A plain
# integer is not matched: it stays an int (the int resolver comes after this one).
_FLOAT_RE = re.compile(
    r"""^(?:[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+
    |[-+]?[0-9][0-9_]*\.[0-9_]*
    |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
ScenarioLoader.yaml_implicit_resolvers = {
    first: [
        (tag, _FLOAT_RE if tag == _FLOAT else regexp) for tag, regexp in resolvers if tag != _BOOL
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ScenarioLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_unique_mapping(loader: ScenarioLoader, node: yaml.MappingNode) -> dict:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)  # type: ignore[no-untyped-call]
    return mapping


ScenarioLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_unique_mapping,  # type: ignore[arg-type]
)
