"""Loading settings: TOML, includes, and the checks that need the whole file.

``load_settings(path)`` returns ``Settings`` or raises ``SettingsError`` carrying every error
found, each as ``key.path[3].sub: message``. Nothing here touches the network.
"""

from __future__ import annotations

import glob
import itertools
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from alerts.rules import check_rules
from monitor.config.models import Settings, Target

__all__ = ["SettingsError", "SettingsIssue", "load_settings", "parse_settings"]


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


def _read_toml(path: Path, key: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError([SettingsIssue(key, f"file {path} not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError([SettingsIssue(key, f"cannot read {path}: {exc}")]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError([SettingsIssue(key, f"{path} is not valid TOML: {exc}")]) from None


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
    if issues:
        raise SettingsError(issues)
    return settings


def load_settings(path: str | Path) -> Settings:
    path = Path(path)
    raw = _read_toml(path, "")
    return parse_settings(raw, path.parent)
