"""The YAML dialect of scenario files and data tables: PyYAML's safe loader, with duplicate
keys refused (merge keys `<<` overridden by explicit ones, as YAML says), booleans and floats
read as YAML 1.2 does (only true/false are booleans; 1e9 is a number), and bounds on how
deep a document nests and what it expands to."""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import Any

import yaml

from sim.scenario.problems import shown

MAX_VALUES = 100_000
"""Most values (scalars and collections) a document may hold, its aliases expanded; the
bundled scenarios hold about 400.  Nine nested aliases of nine stand for 387 million."""
MAX_DEPTH = 64
"""Deepest nesting of values (a scenario nests 6 deep); PyYAML composes recursively, and a
few hundred levels exhaust Python's stack."""
MAX_DIGITS = 100
"""Longest integer, in digits (Python refuses to read more than 4300)."""


class LimitError(yaml.MarkedYAMLError):
    """A document beyond a bound of the loader: valid YAML, but not a scenario to read."""


class ScenarioLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, and reads booleans and floats as YAML 1.2 does.

    YAML 1.1 takes `on`, `off`, `yes` and `no` for booleans, which would turn the key `on:`
    of a technology into True; only `true` and `false` are booleans here.  YAML 1.1 floats
    need a dot and a signed exponent, so PyYAML reads `1e9` and `3.6e9` as text; here they
    are numbers, as in YAML 1.2 (and JSON).

    Composing counts the values each node stands for with its aliases expanded, and refuses
    a document beyond MAX_VALUES at once: the constructed data shares aliased values, but
    validating or printing it walks every copy (a "billion laughs" of 350 bytes).  It also
    refuses nesting deeper than MAX_DEPTH, aliased values counted at their depth of use.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._values: dict[yaml.Node, int] = {}  # finished nodes: values, aliases expanded
        self._heights: dict[yaml.Node, int] = {}  # finished nodes: levels they nest
        self._depth = 0  # levels of the nodes being composed
        self._aliases = False
        self._merged: dict[yaml.Node, int] = {}  # mappings: leading pairs that were merged

    def _too_deep(self, mark: yaml.Mark) -> LimitError:
        return LimitError(None, None, f"nested more than {MAX_DEPTH} levels deep", mark)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):  # type: ignore[no-untyped-call]
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            node = super().compose_node(parent, index)
            if node is None or node not in self._values:  # its anchor is still being composed
                raise LimitError(
                    None, None, "this alias refers to a collection that contains it", mark
                )
            if self._depth + self._heights[node] > MAX_DEPTH:
                raise self._too_deep(mark)
            self._aliases = True
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise self._too_deep(self.peek_event().start_mark)  # type: ignore[no-untyped-call]
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            return None
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        values = 1 + sum(self._values[child] for child in children)
        self._heights[node] = 1 + max((self._heights[child] for child in children), default=0)
        if values > MAX_VALUES:
            reason = (
                f"its aliases expand to more than {MAX_VALUES:,} values; write the values "
                "out, or use fewer aliases"
                if self._aliases
                else f"the document holds more than {MAX_VALUES:,} values"
            )
            raise LimitError(None, None, reason, node.start_mark)
        self._values[node] = values
        return node

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        if len(str(node.value)) > MAX_DIGITS:
            raise LimitError(
                None,
                None,
                f"a number of {len(str(node.value))} digits; at most {MAX_DIGITS} are read",
                node.start_mark,
            )
        return super().construct_yaml_int(node)  # type: ignore[no-any-return,no-untyped-call]

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        """A date as PyYAML reads it (the scenario says what to write instead), or an error
        for one that does not exist (2024-02-30, year 0), which PyYAML raises as a bare
        ValueError."""
        try:
            return super().construct_yaml_timestamp(node)  # type: ignore[no-untyped-call]
        except ValueError as error:
            raise yaml.constructor.ConstructorError(
                None, None, f"{shown(node.value)} is not a date ({error})", node.start_mark
            ) from None

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        """PyYAML's merge (`<<: *base`: merged pairs first, then the node's own), noting how
        many leading pairs were merged: those may be overridden, the node's own may not
        repeat a key.  A mapping may be flattened before it is constructed (when another
        merges it), so the count is kept with the node."""
        own = sum(1 for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge")
        super().flatten_mapping(node)  # type: ignore[no-untyped-call]
        if len(node.value) > own:
            self._merged[node] = len(node.value) - own

    def merged_pairs(self, node: yaml.MappingNode) -> int:
        """How many leading pairs of a flattened mapping came from merge keys."""
        return self._merged.get(node, 0)


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
    """A mapping whose own keys are unique; merged keys (`<<`) are overridden by later ones,
    the node's own last (YAML merge: explicit keys win, the first merged mapping wins)."""
    loader.flatten_mapping(node)
    merged = loader.merged_pairs(node)
    mapping: dict[Any, Any] = {}
    own: set[Any] = set()
    for position, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                None, None, f"a key must be a name or a number, got {shown(key)}",
                key_node.start_mark,
            )  # fmt: skip
        if position >= merged:
            if key in own:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {shown(key)}", key_node.start_mark
                )
            own.add(key)
        mapping[key] = loader.construct_object(value_node, deep=True)  # type: ignore[no-untyped-call]
    return mapping


ScenarioLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_unique_mapping,  # type: ignore[arg-type]
)
ScenarioLoader.add_constructor(
    "tag:yaml.org,2002:int",
    ScenarioLoader.construct_yaml_int,  # type: ignore[arg-type]
)
ScenarioLoader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    ScenarioLoader.construct_yaml_timestamp,  # type: ignore[arg-type]
)
