"""The shape of the house, checked: no import cycles, the core never imports the channels, nothing reaches outside
the repository, and ruff and mypy are clean."""
import ast
import re
import subprocess
import sys
from pathlib import Path

from support import ROOT

PACKAGES = ("bot", "channels", "actions", "knowledge")
COMPOSITION_ROOTS = {"bot.app"}  # the one place that wires channels to the core


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def top_level_imports(path: Path, known: set[str]) -> set[str]:
    """First-party modules imported when `path` is imported (module level, outside `if TYPE_CHECKING:`)."""
    imported = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for inner in ast.walk(node) if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else []:
            if isinstance(inner, ast.Import):
                names = [a.name for a in inner.names]
            elif isinstance(inner, ast.ImportFrom) and inner.module and inner.level == 0:
                names = [inner.module] + [f"{inner.module}.{a.name}" for a in inner.names]
            else:
                continue
            imported.update(n for n in names if n in known)
    return imported


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: top_level_imports(path, set(found)) - {name} for name, path in found.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_no_import_cycles():
    assert find_cycle(graph()) is None, " -> ".join(find_cycle(graph()) or [])


def test_the_cycle_check_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_core_never_imports_the_channels():
    offenders = {name: sorted(i for i in imports if i.startswith("channels"))
                 for name, imports in graph().items()
                 if not name.startswith("channels") and name not in COMPOSITION_ROOTS}
    assert {k: v for k, v in offenders.items() if v} == {}
    for name, path in modules().items():  # also inside functions
        if not name.startswith("channels") and name not in COMPOSITION_ROOTS:
            assert "from channels" not in path.read_text(encoding="utf-8"), name


# A relative path that climbs out of the repository ("../x/…"), or code reaching for the repository's parent folder.
_OUTSIDE = re.compile(r"(?<![.\w/])\.\./[A-Za-z]|ROOT\.parent\b")


def test_nothing_refers_outside_the_repository():
    checked = [*ROOT.glob("*.md"), *ROOT.glob("docs/*.md"), ROOT / "Makefile",
               *(p for package in PACKAGES for p in (ROOT / package).rglob("*.py")), *(ROOT / "tests").rglob("*.py")]
    offenders = [str(p.relative_to(ROOT)) for p in checked if p != Path(__file__) and _OUTSIDE.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean():
    """`mypy --strict` over bot, knowledge, channels and actions (mypy.ini; its cache in .mypy_cache keeps reruns quick)."""
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
