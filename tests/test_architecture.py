"""The layout and its rules (docs/architecture.md), enforced by walking every import of the package — module-level
and inside functions — so an arrow running back up, a stage importing a later stage, or an import circle fails."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "twinforge"

# lower number = lower layer; a package may import its own modules and those of lower layers only
LAYERS = {
    "(root)": 0, "errors": 0, "strict": 0, "records": 0, "stage": 0, "text": 0, "orphans": 0,
    "store": 1,
    "volume": 2,
    "models": 3,
    "backends": 4, "adapters": 4,
    "stages": 5,  # the pipeline stages below, in the order a recipe runs them
    "serve": 6,
    "config": 7,
    "runner": 8,
    "cli": 9, "__main__": 10,
}
STAGES = ["ingest", "clean", "distill", "expand", "dataset", "train", "scenes", "estimate", "eval", "memory", "persona",
          "hyper"]
# stage code keeps functions short; these may stay long, for the reason given
LONG_FUNCTIONS = {
    ("train/sft.py", "train_adapter"): "the training loop reads top to bottom as one function (its docstring says why)",
}
MAX_FUNCTION_LINES = 80


def modules() -> dict[str, Path]:
    out = {}
    for p in PACKAGE.rglob("*.py"):
        parts = list(p.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def imports(name: str, path: Path, known: set[str]) -> list[tuple[str, int]]:
    """(imported twinforge module, line) for every import in the file, at any depth."""
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "twinforge":
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}"
                out.append((full if full in known else target, node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "twinforge"]
    return out


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "(root)"


def rank(pkg: str) -> tuple[int, int]:
    if pkg in STAGES:
        return LAYERS["stages"], STAGES.index(pkg)
    assert pkg in LAYERS, f"package {pkg} has no layer: add it to docs/architecture.md and LAYERS here"
    return LAYERS[pkg], 0


def test_every_import_points_down_or_to_an_earlier_stage():
    mods = modules()
    wrong = []
    for name, path in mods.items():
        a = package_of(name)
        for target, line in imports(name, path, set(mods)):
            b = package_of(target)
            if a != b and rank(b) >= rank(a):
                why = "a later stage" if a in STAGES and b in STAGES else "a higher or equal layer"
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} imports {target} ({why})")
    assert not wrong, "\n".join(wrong)


def test_no_import_circles():
    mods = modules()
    graph = {n: {t for t, _ in imports(n, p, set(mods)) if t in mods and t != n} for n, p in mods.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    circles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
                circles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not circles, circles


def test_own_modules_are_imported_plainly():
    """An ImportError guard around our own module turns a bug into a silent change of behaviour."""
    guarded = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Try):
                continue
            catches = [h for h in node.handlers if isinstance(h.type, ast.Name) and h.type.id in
                       ("ImportError", "ModuleNotFoundError")]
            own = [n for n in ast.walk(ast.Module(body=node.body, type_ignores=[]))
                   if isinstance(n, ast.ImportFrom) and (n.level or (n.module or "").startswith("twinforge"))]
            if catches and own:
                guarded.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not guarded, guarded


def test_stage_functions_are_short():
    long = []
    for name, path in modules().items():
        if package_of(name) not in STAGES:
            continue
        rel = str(path.relative_to(PACKAGE))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES and (rel, node.name) not in LONG_FUNCTIONS:
                    long.append(f"{rel}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, long


def test_the_document_names_every_package():
    doc = (PACKAGE.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    packages = {package_of(m) for m in modules()} - {"(root)"}
    missing = [p for p in sorted(packages) if f"`{p}`" not in doc]
    assert not missing, f"docs/architecture.md does not describe: {missing}"


def test_migrations_are_one_style_numbered_without_gaps(tmp_path):
    """Every migration is a SQL file store/sql/mNNN_<name>.sql; a fresh store applies them all, once."""
    import re

    from twinforge.store import Store
    from twinforge.store.migrations import migrate, migrations

    names = [n for n, _ in migrations()]
    assert all(re.fullmatch(r"m\d{3}_[a-z_]+", n) for n in names), names
    assert [int(n[1:4]) for n in names] == list(range(1, len(names) + 1))
    assert not list(PACKAGE.joinpath("store").glob("m0*.py"))  # no migration written as Python
    with Store(tmp_path / "ws") as store:
        assert [r[0] for r in store.db.execute("SELECT name FROM _migrations ORDER BY name")] == names
        assert migrate(store.db) == []  # nothing runs twice


def test_shared_cli_options_are_defined_once():
    """--json, --config and --dry-run come from cli/options.py (after sqlite-utils), not written out per command."""
    again = [f"{p.name}: {opt}" for p in (PACKAGE / "cli").glob("*.py") if p.name != "options.py"
             for opt in ('"--json"', '"--config"', '"--dry-run"') if opt in p.read_text(encoding="utf-8")]
    assert not again, again


# Modules that still run their own SQL, and why. The list only shrinks: move a module's reads and writes into
# store/ (a typed function in store/reads.py or store/listings.py, after simonw/llm's LogStore) and drop it here.
# A module outside store/ that is not listed fails test_sql_lives_in_the_store.
OWN_SQL = {
    "adapters/registry.py": "the adapter registry's rows (its own table)",
    "backends/cache.py": "the call cache's rows (its own table)",
    "clean/run.py": "clean's verdicts: its own batch writes and the re-judging reads",
    "clean/funnel.py": "the funnel's counts per step",
    "dataset/build.py": "the dataset's example selection",
    "distill/quality.py": "module_scores: its own table",
    "distill/run.py": "modules and distill_failures: distill's own writes and resume reads",
    "eval/runs.py": "eval_runs: its own table",
    "expand/run.py": "examples: expand's own writes and resume reads",
    "expand/generated_run.py": "generated examples, example_rejects, generated_modules: their own writes and "
                               "resume reads",
    "ingest/run.py": "ingest's batch writes",
    "memory/build.py": "memory_items / memory_fts / memory_vectors: memory's own tables",
    "memory/graph.py": "memory_concepts / memory_communities: memory's own tables",
    "volume.py": "pages, characters and tokens per stage (aggregate counts)",
}
_SQL_CALLS = {"execute", "executemany", "executescript"}


def test_sql_lives_in_the_store():
    """A module outside store/ that calls `.execute(` (or executemany/executescript) must be in OWN_SQL; a listed
    one that no longer runs SQL must leave the list, so it only shrinks."""
    running = set()
    for path in PACKAGE.rglob("*.py"):
        rel = str(path.relative_to(PACKAGE))
        if rel.startswith("store/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _SQL_CALLS:
                running.add(rel)
    assert not running - set(OWN_SQL), (f"SQL outside store/: {sorted(running - set(OWN_SQL))}; add a typed read or "
                                        "write to store/ and call it (or, with a reason, to OWN_SQL)")
    assert not set(OWN_SQL) - running, f"no SQL left in {sorted(set(OWN_SQL) - running)}: drop them from OWN_SQL"
