"""The house in layers (docs/architecture.md): the import-linter contracts hold every module, no
import cycle exists between modules, the settings load no probe implementation, and each
package exports what it says."""

from __future__ import annotations

import ast
import configparser
import importlib
import inspect
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

from probes import OPTIONS, PROBES
from tests.support.common import REPO

PRODUCT = ("monitor", "probes", "alerts", "grafana")
# Beside the product: they may use any layer, and nothing of the product imports them.
BESIDE = ("monitor.lab", "monitor.drill")


def _modules() -> Iterator[str]:
    for package in PRODUCT:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts)


def _layers() -> list[str]:
    config = configparser.ConfigParser()
    config.read(REPO / ".importlinter", encoding="utf-8")
    entries: list[str] = []
    for line in config["importlinter:contract:layers"]["layers"].split("\n"):
        entries += [e.strip() for e in line.replace("|", ":").split(":") if e.strip()]
    return entries


def test_every_product_module_sits_in_a_layer() -> None:
    layers = _layers()
    roots = set(PRODUCT) | {"monitor.runtime"}  # package __init__s, holding no code
    loose = [
        m
        for m in _modules()
        if m not in roots
        and not m.startswith(BESIDE)
        and not any(m == e or m.startswith(e + ".") for e in layers)
    ]
    assert not loose, f"modules outside every layer of .importlinter: {loose}"


def test_lint_imports_keeps_every_contract() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root) & modules)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    imported = graph.find_modules_directly_imported_by(child) & modules
                    work.append((child, iter(sorted(imported))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_between_modules() -> None:
    graph = grimp.build_graph(*PRODUCT)
    modules = {m for m in graph.modules if m.split(".")[0] in PRODUCT}
    # A package's __init__ re-exporting its submodules is not a cycle of logic: leave the
    # packages themselves out, keep every module with code.
    packages = {m for m in modules if (REPO / m.replace(".", "/") / "__init__.py").exists()}
    assert _cycles(graph, modules - packages) == []


def test_the_cycle_check_can_fail() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(name)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.z", imported="a.x")
    assert _cycles(graph, {"a.x", "a.y", "a.z"}) == [["a.x", "a.y"]]


def test_no_import_inside_a_function_to_dodge_a_cycle() -> None:
    """Imports of netmon's own modules sit at the top of the module, not in functions."""
    late: list[str] = []
    for module in _modules():
        if module.startswith(BESIDE):
            continue
        path = REPO / (module.replace(".", "/") + ".py")
        if not path.exists():
            path = REPO / module.replace(".", "/") / "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.ImportFrom)
                    and (inner.module or "").split(".")[0] in PRODUCT
                ):
                    late.append(f"{module}:{inner.lineno} from {inner.module}")
                elif isinstance(inner, ast.Import) and any(
                    a.name.split(".")[0] in PRODUCT for a in inner.names
                ):
                    late.append(f"{module}:{inner.lineno} import")
    assert late == []


def test_loading_the_settings_imports_no_probe_implementation() -> None:
    code = (
        "import sys, monitor.config as c; "
        "c.load_settings('settings.toml'); print('\\n'.join(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    loaded = set(done.stdout.split())
    assert "monitor.config" in loaded  # the check itself saw the import
    heavy = {
        "aiohttp",
        "dns",
        "cryptography",
        "jinja2",
        "prometheus_client",
        "pysnmp",
        "probes.icmp",
        "probes.http",
        "probes.dns",
        "probes.tcp",
        "probes.tls",
        "probes.snmp.probe",
        "alerts.engine",
        "monitor.runtime.scheduler",
        "probes.context",
        "asyncio",
    }
    assert sorted(heavy & loaded) == []


# Each package's public names, as httpx pins its own: a change here is a change on purpose.
EXPORTS: dict[str, list[str]] = {
    "probes": [
        "OPTIONS",
        "PROBES",
        "KindOptions",
        "ProbeResult",
        "ProbeTarget",
        "Sample",
        "failure",
    ],
    "monitor.config": [
        "LABEL_NAME",
        "NAME_PATTERN",
        "RESERVED_LABELS",
        "DefaultsSettings",
        "Name",
        "Phase",
        "SchedulerSettings",
        "ServerSettings",
        "Settings",
        "SettingsError",
        "SettingsIssue",
        "Target",
        "load_settings",
        "parse_settings",
        "parse_shard",
        "shard_of",
        "split_listen",
    ],
    "monitor.core.clock": ["Clock", "SystemClock"],
    "monitor.core.labels": ["Labelled", "matches", "target_labels"],
    "monitor.core.waiting": ["wait_for"],
    "monitor.cli.common": ["EXIT_CONFIG", "EXIT_FAILURE", "EXIT_OK", "load_or_exit"],
    "monitor.cli.main": ["COMMANDS", "Command", "main"],
}
# Packages whose __init__ holds only a map of the package: importing it costs nothing.
EMPTY = ["alerts", "monitor.core", "monitor.cli", "monitor.runtime", "monitor.web", "probes.snmp"]


@pytest.mark.parametrize("package", sorted(EXPORTS))
def test_package_exports(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(EXPORTS[package])
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.{name}"


@pytest.mark.parametrize("package", EMPTY)
def test_map_only_packages_export_nothing(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__ == []
    assert module.__doc__, f"{package}/__init__.py should say what the package holds"


def test_probe_registry_and_options_name_the_same_kinds() -> None:
    assert list(PROBES) == list(OPTIONS)
    for kind in PROBES:
        assert inspect.iscoroutinefunction(PROBES[kind]), kind
    with pytest.raises(KeyError):
        PROBES["nope"]
