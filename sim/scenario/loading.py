"""Reading scenario files: YAML (duplicate keys refused, YAML 1.2 booleans), validation, and
problems located at the file, line and column of the value they are about."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ValidationError

from sim.scenario.checks import consistency_problems
from sim.scenario.fields import not_a_number
from sim.scenario.model import DEPRECATED_ON, GROWTH_MODELS, Scenario, uses_deprecated_on
from sim.scenario.problems import SHOWN_CHARACTERS, Problem, ScenarioError, did_you_mean, shown
from sim.scenario.yaml_text import LimitError, ScenarioLoader


def _node_at(root: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[yaml.Node | None, bool]:
    """The YAML node at a field path, and whether the last step was found (vs a parent)."""
    node = root
    for step in loc:
        if isinstance(node, yaml.MappingNode):
            # the last pair with the key is the one read: after merged pairs (`<<: *base`)
            # come the mapping's own, which override them
            for key_node, value_node in reversed(node.value):
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(step):
                    node = value_node
                    break
            else:
                # an unknown key: point at the key itself when it exists
                return node, False
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if step >= len(node.value):
                return node, False
            node = node.value[step]
        else:
            return node, False
    return node, True


def _key_node(parent: yaml.Node | None, key: Any) -> yaml.Node | None:
    if isinstance(parent, yaml.MappingNode):
        for key_node, _ in reversed(parent.value):  # the last one is read (see _node_at)
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(key):
                return key_node
    return None


def _path_text(loc: Iterable[Any]) -> str:
    text = ""
    for step in loc:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            # a key as written, unless it is long or holds line breaks: then quoted and cut
            name = str(step)
            plain = name.isprintable() and len(name) <= SHOWN_CHARACTERS
            text += ("." if text else "") + (name if plain else shown(name))
    return text


def _field_names(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """Allowed keys of the model reached by a field path (for 'did you mean')."""
    current: Any = model
    for step in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            if step not in current.model_fields:
                return []
            current = current.model_fields[step].annotation
            continue
        origin = typing.get_origin(current)
        args = typing.get_args(current)
        if origin in (dict, list) and args:
            current = args[-1]
        elif origin in (typing.Union, _UnionType) and step in GROWTH_MODELS:
            current = {m.model_fields["model"].annotation.__args__[0]: m for m in args}.get(step)
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


_UnionType = type(int | str)


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, _UnionType) and type(None) in args:
        rest = [arg for arg in args if arg is not type(None)]
        if len(rest) == 1:
            return _unwrap(rest[0])
    return annotation


_DATE_REPR = re.compile(r"datetime\.date\((\d+), (\d+), (\d+)\)")


def _date_text(match: re.Match[str]) -> str:
    year, month, day = (int(part) for part in match.groups())
    return f"{year:04d}-{month:02d}-{day:02d}"


_NUMBER_TYPES = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
}


def _problems_from_validation(
    error: ValidationError, file: str | None, root: yaml.Node | None
) -> list[Problem]:
    problems: list[Problem] = []
    for detail in error.errors(include_url=False):
        loc = tuple(detail["loc"])
        if "[key]" in loc:  # a bad mapping key: the step before "[key]" is the key itself
            loc = tuple(str(step) for step in loc[: loc.index("[key]")])
        # pydantic writes a date key as its Python repr; show it as it stands in the file
        loc = tuple(
            _DATE_REPR.sub(_date_text, step) if isinstance(step, str) else step for step in loc
        )
        # a discriminated union puts the chosen tag into the path; users never wrote it
        loc = tuple(
            step
            for position, step in enumerate(loc)
            if not (position > 0 and loc[position - 1] == "growth" and step in GROWTH_MODELS)
        )
        kind = detail["type"]
        message = str(detail["msg"]).removeprefix("Value error, ")
        if kind == "extra_forbidden":
            allowed = _field_names(Scenario, loc[:-1])
            message = f"unknown key {shown(loc[-1])}{did_you_mean(str(loc[-1]), allowed)}"
            if allowed:
                message += f" (allowed: {', '.join(allowed)})"
        elif kind == "missing":
            message = "required key is missing"
        elif kind == "union_tag_invalid":
            message = (
                f"unknown growth model {shown(detail['input'].get('model'))}"
                f"{did_you_mean(detail['input'].get('model'), GROWTH_MODELS)}; "
                f"models: {', '.join(GROWTH_MODELS)}"
            )
            loc = (*loc, "model")
        elif kind == "union_tag_not_found":
            message = f"a growth needs model: one of {', '.join(GROWTH_MODELS)}"
        elif kind in _NUMBER_TYPES:  # a field declared plain int or float (strict mode)
            message = not_a_number(detail.get("input"), _NUMBER_TYPES[kind])
        elif kind.startswith(("literal_error", "enum")):
            message = f"got {shown(detail['input'])}; {message[0].lower() + message[1:]}"
        elif kind != "value_error" and "input" in detail and not isinstance(detail["input"], dict):
            message = f"got {shown(detail['input'])}: {message}"
        message = message.replace("Input should be", "must be").replace(
            "input should be", "must be"
        )
        node, found = _node_at(root, loc)
        if kind == "extra_forbidden" and node is not None:
            node = _key_node(node, loc[-1]) or node
        line = column = None
        if node is not None and (found or kind in ("extra_forbidden", "missing")):
            line, column = node.start_mark.line + 1, node.start_mark.column + 1
        problems.append(Problem(_path_text(loc), message, file, line, column))
    return problems


def _locate(
    problems: list[Problem], file: str | None, root: yaml.Node | None, keys: bool = False
) -> list[Problem]:
    """The problems with the file, and the line and column of the value at their path (with
    `keys`, of the key itself: a note about a key's name)."""
    located = []
    for problem in problems:
        loc = tuple(
            int(step[1:-1]) if step.startswith("[") else step
            for step in re.findall(r"\[\d+\]|[^.\[\]]+", problem.path)
        )
        if "*" in loc:
            loc = loc[: loc.index("*")]
        node, found = _node_at(root, loc)
        if keys and found and loc:
            parent, _ = _node_at(root, loc[:-1])
            node = _key_node(parent, loc[-1]) or node
        line = column = None
        if node is not None:
            line, column = node.start_mark.line + 1, node.start_mark.column + 1
        located.append(Problem(problem.path, problem.message, file, line, column))
    return located


def parse_scenario(
    data: Any,
    *,
    file: str | None = None,
    default_name: str | None = None,
    _root: yaml.Node | None = None,
) -> Scenario:
    """Validate a scenario given as plain data (as loaded from YAML); raise ScenarioError."""
    if not isinstance(data, dict):
        raise ScenarioError(
            [Problem("", f"a scenario is a mapping of keys, got {type(data).__name__}", file)]
        )
    named = "name" in data
    if default_name and not named:
        data = {"name": default_name, **data}
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        problems = _problems_from_validation(error, file, _root)
        if not named:  # the name came from the file name: say how to give another
            problems = [
                Problem(p.path, f"{p.message} (the name defaults to the file name; write "
                        "name: in the file)", p.file, p.line, p.column)
                if p.path == "name" else p
                for p in problems
            ]  # fmt: skip
        raise ScenarioError(problems) from None
    problems = consistency_problems(scenario)
    if problems:
        raise ScenarioError(_locate(problems, file, _root))
    notes = _deprecation_notes(data)
    if notes:
        scenario._notes = tuple(_locate(notes, file, _root, keys=True))
    return scenario


def _deprecation_notes(data: dict[Any, Any]) -> list[Problem]:
    """Keys that are still read but have a new name: `on` of network.technologies."""
    network = data.get("network")
    carried = network.get("technologies") if isinstance(network, dict) else None
    if not isinstance(carried, dict):
        return []
    return [
        Problem(f"network.technologies.{name}.on", DEPRECATED_ON)
        for name, carriage in carried.items()
        if uses_deprecated_on(carriage)
    ]


MAX_FILE_BYTES = 10_000_000
"""Largest scenario file read, bytes (10 MB; the bundled scenarios are 5 kB).  A path to an
endless stream (/dev/zero, a FIFO) is read this far and refused."""


def _read_text(path: Path, file: str) -> str:
    """The text of a scenario file, at most MAX_FILE_BYTES of UTF-8."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError([Problem("", "no such file", file)]) from None
    except OSError as error:
        raise ScenarioError([Problem("", f"cannot read the file: {error}", file)]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(
            [
                Problem(
                    "",
                    f"the file is larger than {MAX_FILE_BYTES // 1_000_000} MB; a scenario is a "
                    "few kB (is this the right file?)",
                    file,
                )
            ]
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ScenarioError([Problem("", f"cannot read the file: {error}", file)]) from None


_LONG_WORD = re.compile(rf"\S{{{SHOWN_CHARACTERS + 1},}}")


def _yaml_reason(*parts: str | None) -> str:
    """PyYAML's explanation on one line, each token it quotes cut to SHOWN_CHARACTERS."""
    text = " ".join(" ".join(part.split()) for part in parts if part)
    return _LONG_WORD.sub(lambda match: match.group()[: SHOWN_CHARACTERS - 3] + "...", text)


def _parse_yaml(text: str, file: str) -> tuple[yaml.Node | None, Any]:
    """The YAML node tree (for error locations) and the data of a scenario's text."""
    loader = None
    try:
        loader = ScenarioLoader(text)  # reads the text: a control character fails here
        root = loader.get_single_node()
        data = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        kind = "YAML error" if isinstance(error, LimitError) else "YAML syntax error"
        reason = _yaml_reason(error.context, error.problem)
        raise ScenarioError([Problem("", f"{kind}: {reason}", file, line, column)]) from None
    except yaml.reader.ReaderError as error:  # a character YAML does not allow in a file
        where = text[: error.position]
        line, column = where.count("\n") + 1, error.position - where.rfind("\n")
        message = f"YAML error: the character #x{error.character:04x} is not allowed in YAML"
        raise ScenarioError([Problem("", message, file, line, column)]) from None
    except yaml.YAMLError as error:
        raise ScenarioError(
            [Problem("", f"YAML error: {_yaml_reason(str(error))}", file)]
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    return root, data


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; every problem is reported in one ScenarioError."""
    path = Path(path)
    file = str(path)
    text = _read_text(path, file)
    root, data = _parse_yaml(text, file)
    if data is None:
        raise ScenarioError([Problem("", "the file is empty", file)])
    return parse_scenario(data, file=file, default_name=path.stem.replace(" ", "_"), _root=root)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files, for editors."""
    return Scenario.model_json_schema()
