"""The YAML dialect of scenario files and data tables: PyYAML's safe loader, with duplicate
keys refused and booleans read as YAML 1.2 does (only true/false)."""

from __future__ import annotations

import re
from typing import Any

import yaml


class ScenarioLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, and reads booleans as YAML 1.2 does.

    YAML 1.1 takes `on`, `off`, `yes` and `no` for booleans, which would turn the key `on:`
    of a technology into True; only `true` and `false` are booleans here.
    """


ScenarioLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ScenarioLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
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
