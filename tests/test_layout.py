"""The layout's dependency rules (../shared/ARCHITECTURE.md), read from the source with ast.

api -> vision, patrol, coordination; worker -> vision, coordination; vision and patrol import neither api nor
worker (nor each other); no route module imports another; no import cycle between modules; importing
the api app loads no OpenCV; no source file over 400 lines outside migrations and tests.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("vision", "patrol", "api", "worker", "coordination")
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
            if "migrations" not in p.parts}


SOURCES = _sources()


def _imports(name: str, path: Path, *, top_level_only: bool = False) -> set[str]:
    """Project modules `name` imports (at module level only, when asked: lazy imports inside functions
    do not make a cycle at import time)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".")[: -node.level] if not path.name == "__init__.py" else name.split(".")
                base = ".".join(pkg + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        found.update(t for t in targets if t in SOURCES)
    return found - {name}


def _violations(sources: dict[str, Path], rule: dict[str, tuple[str, ...]]) -> list[str]:
    bad = []
    for name, path in sources.items():
        top = name.split(".")[0]
        # The command line starts every program, the worker among them: api.cli may import worker, and
        # only inside the command that runs it, so the api itself never loads it.
        lazy_ok = name.startswith("api.cli.")
        deps = _imports(name, path, top_level_only=lazy_ok)
        if lazy_ok:
            deps |= {d for d in _imports(name, path) if d.split(".")[0] != "worker"}
        for dep in deps:
            if dep.split(".")[0] in rule.get(top, ()):
                bad.append(f"{name} imports {dep}")
    return bad


def test_packages_import_only_what_the_layout_allows() -> None:
    forbidden = {"vision": ("api", "worker", "patrol", "coordination"),
                 "patrol": ("api", "worker", "vision", "coordination"),
                 "worker": ("api", "patrol"),
                 "coordination": ("api", "worker", "patrol", "vision"),
                 "api": ("worker",)}
    assert _violations(SOURCES, forbidden) == []


def test_no_route_module_imports_another() -> None:
    routes = {n: p for n, p in SOURCES.items() if n.startswith("api.routes.")}
    bad = [f"{n} imports {d}" for n, p in routes.items()
           for d in _imports(n, p) if d.startswith("api.routes")]
    assert bad == []


def test_services_know_nothing_of_http() -> None:
    services = {n: p for n, p in SOURCES.items() if n.startswith("api.services")}
    bad = []
    for name, path in services.items():
        text = path.read_text(encoding="utf-8")
        for word in ("fastapi", "starlette", "HTTPException", "api.schemas", "api.routes", "api.views"):
            if word in text:
                bad.append(f"{name} mentions {word}")
    assert bad == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _graph(*, top_level_only: bool) -> dict[str, set[str]]:
    # a package's __init__ is imported with each of its modules; the edge to it is not a cycle of interest
    return {n: {d for d in _imports(n, p, top_level_only=top_level_only) if not n.startswith(d + ".")}
            for n, p in SOURCES.items()}


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("top_level_only", [True, False], ids=["module-level", "including-lazy"])
def test_no_import_cycle(top_level_only: bool) -> None:
    assert _cycles(_graph(top_level_only=top_level_only)) == []


def test_importing_the_api_app_loads_no_opencv() -> None:
    code = "import sys, api.app; assert 'cv2' not in sys.modules, 'api.app loaded cv2'"
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]


def test_no_source_file_over_the_limit() -> None:
    skip = {".venv", "tests", "migrations", "build", "node_modules", ".git"}
    files = [p for p in ROOT.rglob("*.py") if not skip & set(p.relative_to(ROOT).parts)]
    long = {str(p.relative_to(ROOT)): n for p in files
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}, f"files over {MAX_LINES} lines: split them"
