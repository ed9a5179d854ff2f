"""Loading settings: TOML, includes, and the checks that need the whole file.

``load_settings(path)`` returns ``Settings`` or raises ``SettingsError`` carrying every error
found, each as ``key.path[3].sub: message``. Nothing here touches the network.

No file, however hostile, gets more than a ``SettingsError``: the settings file and its includes
must be regular files of at most ``SETTINGS_FILE_LIMIT`` bytes (a FIFO or a device is refused,
not waited on or read forever: monitor/core/files.py); arrays and tables nested deeper than
``MAX_DEPTH`` are refused before the TOML parser or pydantic recurse into them; whatever the
parser or the models still raise on a pathological input (RecursionError, MemoryError,
OverflowError, ValueError) becomes an issue; and ``load_settings`` gives up after
``LOAD_BUDGET_SECONDS``, so a reload cannot hang while it holds its lock.
"""

from __future__ import annotations

import glob
import itertools
import re
import threading
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from alerts.escalation import check_escalation
from alerts.inhibit import check_inhibit
from alerts.rules import check_rules
from monitor.config.models import Settings, Target
from monitor.core.files import FileRefused, read_regular_file

__all__ = [
    "LOAD_BUDGET_SECONDS",
    "MAX_DEPTH",
    "SETTINGS_FILE_LIMIT",
    "SettingsError",
    "SettingsIssue",
    "load_settings",
    "parse_settings",
]

SETTINGS_FILE_LIMIT = 4 * 1024 * 1024  # the settings file and each include
# Real settings nest 5 levels at most ([alerts] routes' matchers); TOML's parser and pydantic
# recurse, and Python's stack ends near 1,000 frames.
MAX_DEPTH = 24
LOAD_BUDGET_SECONDS = 20.0
# What the parser and the models raise on pathological input rather than a clean error.
_PATHOLOGICAL = (RecursionError, MemoryError, OverflowError, ValueError)


@dataclass(frozen=True, slots=True)
class SettingsIssue:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SettingsError(Exception):
    """Every problem found in a settings file, each naming its key path."""

    def __init__(self, issues: Sequence[SettingsIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


def _loc_to_path(loc: Iterable[int | str]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _pydantic_issues(error: ValidationError, origin: dict[int, str]) -> list[SettingsIssue]:
    issues = []
    for item in error.errors(include_url=False):
        loc = [p for p in item["loc"] if not (isinstance(p, str) and "[" in p)]
        # Pydantic names the union member in the location ("function-after[...]"); drop it.
        loc = [p for p in loc if not (isinstance(p, str) and p.startswith("function-"))]
        path = _loc_to_path(loc)
        if len(loc) >= 2 and loc[0] == "targets" and isinstance(loc[1], int):
            path = _origin_path(loc[1], path, origin)
        message = item["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        secret = any(w in path for w in ("community", "key", "password", "token", "secret"))
        if item["type"].endswith("_type") and not secret:
            message += f" (got {type(item['input']).__name__} {item['input']!r})"
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "missing":
            message = "required key is missing"
        issues.append(SettingsIssue(path, message))
    return issues


def _origin_path(index: int, path: str, origin: dict[int, str]) -> str:
    """Name the included file for a target that came from one."""
    where = origin.get(index)
    if where is None:
        return path
    file, local = where.rsplit("#", 1)
    return f"{file}: targets[{local}]" + path[len(f"targets[{index}]") :]


# Tokens that matter to nesting: strings and comments (whose brackets do not count), brackets,
# line ends. Approximate on broken TOML, which the parser then refuses with its own message.
_NESTING_TOKENS = re.compile(
    "|".join(
        (
            r"'{3}[\s\S]*?'{3}",  # multi-line literal string
            r'"{3}(?:\\[\s\S]|[^\\])*?"{3}',  # multi-line basic string
            r"'[^'\n]*'",  # literal string
            r'"(?:\\.|[^"\\\n])*"',  # basic string
            r"#[^\n]*",  # comment
            r"[\[\]{}\n]",
        )
    )
)
_KEY_AT_LINE_START = re.compile(r"\s*([^=\[\]{}#\n]+?)\s*=")
_TABLE_HEADER = re.compile(r"\s*\[\[?\s*([^\]\n]+?)\s*\]")


def _nesting_issue(text: str, key: str) -> SettingsIssue | None:
    """Arrays and inline tables nested deeper than MAX_DEPTH, found before the parser recurses."""
    depth = 0
    line = 1
    line_start = 0
    table = ""
    for token in _NESTING_TOKENS.finditer(text):
        kind = token.group()
        if kind == "\n" or kind.startswith(('"""', "'''")):
            newlines = kind.count("\n")
            if newlines:
                line += newlines
                line_start = token.start() + kind.rindex("\n") + 1
            continue
        if kind in "[{":
            if depth == 0:
                head = text[line_start : token.start()]
                header = _TABLE_HEADER.match(text, line_start)
                if not head.strip() and header is not None:
                    table = header.group(1).replace(" ", "")
            depth += 1
            if depth > MAX_DEPTH:
                found = _KEY_AT_LINE_START.match(text, line_start)
                name = found.group(1).replace(" ", "") if found else ""
                where = ".".join(p for p in (table, name) if p) or key
                if key and where != key:
                    where = f"{key}: {where}"
                return SettingsIssue(
                    where, f"nested deeper than {MAX_DEPTH} levels (line {line}); refused"
                )
        elif kind in "]}":
            depth = max(depth - 1, 0)
    return None


def _deep_issues(raw: dict[str, Any], key: str) -> list[SettingsIssue]:
    """Tables nested deeper than MAX_DEPTH (dotted keys nest without brackets), walked without
    recursion; each named by its key path."""
    issues: list[SettingsIssue] = []
    stack: list[tuple[object, str, int]] = [(raw, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            where = f"{key}: {path}" if key else path
            issues.append(SettingsIssue(where, f"nested deeper than {MAX_DEPTH} levels; refused"))
            continue
        if isinstance(value, dict):
            stack.extend(
                (v, f"{path}.{k}" if path else str(k), depth + 1) for k, v in value.items()
            )
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
    return issues


def _read_toml(path: Path, key: str) -> dict[str, Any]:
    try:
        data = read_regular_file(path, SETTINGS_FILE_LIMIT)
    except FileRefused as exc:
        raise SettingsError([SettingsIssue(key, str(exc))]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsError([SettingsIssue(key, f"cannot read {path}: {exc}")]) from None
    deep = _nesting_issue(text, key)
    if deep is not None:
        raise SettingsError([deep])
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError([SettingsIssue(key, f"{path} is not valid TOML: {exc}")]) from None
    except _PATHOLOGICAL as exc:
        raise SettingsError(
            [SettingsIssue(key, f"{path} cannot be parsed: {type(exc).__name__}")]
        ) from None
    issues = _deep_issues(raw, key)
    if issues:
        raise SettingsError(issues)
    return raw


def _expand_includes(
    raw: dict[str, Any], base: Path
) -> tuple[dict[str, Any], dict[int, str], list[SettingsIssue]]:
    issues: list[SettingsIssue] = []
    origin: dict[int, str] = {}
    includes = raw.get("include", [])
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        return raw, origin, [SettingsIssue("include", "must be a list of file paths or globs")]
    targets = list(raw.get("targets", [])) if isinstance(raw.get("targets", []), list) else []
    for n, pattern in enumerate(includes):
        full = pattern if Path(pattern).is_absolute() else str(base / pattern)
        files = sorted(glob.glob(full)) if glob.has_magic(full) else [full]
        if not files:
            issues.append(SettingsIssue(f"include[{n}]", f"no file matches {pattern!r}"))
            continue
        for file in files:
            try:
                included = _read_toml(Path(file), f"include[{n}]")
            except SettingsError as exc:
                issues.extend(exc.issues)
                continue
            extra = set(included) - {"targets"}
            if extra:
                issues.append(
                    SettingsIssue(
                        f"include[{n}]",
                        f"{file}: only [[targets]] may be included, "
                        f"found {', '.join(sorted(extra))}",
                    )
                )
            for local, item in enumerate(included.get("targets", [])):
                origin[len(targets)] = f"{file}#{local}"
                targets.append(item)
    merged = dict(raw)
    if targets or "targets" in raw:
        merged["targets"] = targets
    return merged, origin, issues


def _depends_cycles(targets: Sequence[Target]) -> list[list[str]]:
    graph = {t.name: [d for d in t.depends_on] for t in targets}
    state: dict[str, int] = {}  # 1 visiting, 2 done
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for parent in graph.get(node, []):
            if parent not in graph:
                continue
            if state.get(parent) == 1:
                cycles.append([*stack[stack.index(parent) :], parent])
            elif parent not in state:
                visit(parent, stack)
        stack.pop()
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [])
    return cycles


def _semantic_issues(settings: Settings, origin: dict[int, str]) -> list[SettingsIssue]:
    issues: list[SettingsIssue] = []
    names = Counter(t.name for t in settings.targets)
    first: dict[str, int] = {}
    for i, target in enumerate(settings.targets):
        where = _origin_path(i, f"targets[{i}]", origin)
        if names[target.name] > 1:
            if target.name in first:
                other = _origin_path(first[target.name], f"targets[{first[target.name]}]", origin)
                issues.append(
                    SettingsIssue(
                        f"{where}.name",
                        f"duplicate target name {target.name!r} (first used at {other})",
                    )
                )
            else:
                first[target.name] = i
        for d, parent in enumerate(target.depends_on):
            if parent not in names:
                issues.append(
                    SettingsIssue(f"{where}.depends_on[{d}]", f"no target is named {parent!r}")
                )
            elif parent == target.name:
                issues.append(
                    SettingsIssue(f"{where}.depends_on[{d}]", "a target cannot depend on itself")
                )
    index = {t.name: i for i, t in enumerate(settings.targets)}
    for cycle in _depends_cycles(settings.targets):
        if len(cycle) > 2:
            path = _origin_path(index[cycle[0]], f"targets[{index[cycle[0]]}]", origin)
            issues.append(
                SettingsIssue(f"{path}.depends_on", "dependency cycle: " + " -> ".join(cycle))
            )
    ordered = sorted(enumerate(settings.phases), key=lambda p: p[1].start)
    for (i, a), (j, b) in itertools.pairwise(ordered):
        if b.start < a.end:
            issues.append(
                SettingsIssue(
                    f"phases[{j}]",
                    f"phase {b.name!r} overlaps phase {a.name!r} "
                    f"(phases[{i}]): at most one phase is current at a time",
                )
            )
    phase_names = Counter(p.name for p in settings.phases)
    for i, phase in enumerate(settings.phases):
        if phase_names[phase.name] > 1:
            issues.append(
                SettingsIssue(f"phases[{i}].name", f"duplicate phase name {phase.name!r}")
            )
    return issues


def parse_settings(raw: dict[str, Any], base: Path) -> Settings:
    """Validate an already-parsed TOML document; includes are resolved against ``base``."""
    try:
        return _parse_settings(raw, base)
    except _PATHOLOGICAL as exc:
        # Bounds and depth checks come first; this is the last line, so that no input can end
        # in a traceback.
        raise SettingsError(
            [SettingsIssue("", f"the settings cannot be checked: {type(exc).__name__}")]
        ) from None


def _parse_settings(raw: dict[str, Any], base: Path) -> Settings:
    issues = _deep_issues(raw, "")
    if issues:
        raise SettingsError(issues)
    merged, origin, issues = _expand_includes(raw, base)
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        raise SettingsError(issues + _pydantic_issues(exc, origin)) from None
    issues += _semantic_issues(settings, origin)
    issues += [
        SettingsIssue(path, message)
        for path, message in check_rules(
            settings.alerts, [p.name for p in settings.phases], settings.targets
        )
    ]
    issues += [
        SettingsIssue(path, message)
        for path, message in check_inhibit(settings.alerts, settings.targets)
        + check_escalation(settings.alerts, [p.name for p in settings.phases])
    ]
    if issues:
        raise SettingsError(issues)
    return settings


def _load(path: Path) -> Settings:
    raw = _read_toml(path, "")
    return parse_settings(raw, path.parent)


def load_settings(path: str | Path, *, budget: float | None = None) -> Settings:
    """Load and check ``path`` within ``budget`` seconds (``LOAD_BUDGET_SECONDS`` unless given);
    past it, a SettingsError. The work runs in a daemon thread, so one that never ends cannot
    keep netmon from exiting either."""
    path = Path(path)
    seconds = LOAD_BUDGET_SECONDS if budget is None else budget
    outcome: list[Settings | BaseException] = []

    def run() -> None:
        try:
            outcome.append(_load(path))
        except BaseException as exc:  # handed to the caller's thread below
            outcome.append(exc)

    worker = threading.Thread(target=run, name=f"load-settings {path.name}", daemon=True)
    worker.start()
    worker.join(seconds)
    if not outcome:
        raise SettingsError(
            [SettingsIssue("", f"loading {path} took longer than {seconds:g} s; refused")]
        )
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result
