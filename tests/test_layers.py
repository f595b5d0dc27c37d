"""The package's ground floor: transfer_learning/vocab.py holds the shared names (errors, kernel names, the arm
registry), imports nothing of the package, and every module takes those names from it, not through another module.
Read from the source with ast, so a sideways import fails here before anyone has to find it in a picture."""

import ast
from pathlib import Path

from transfer_learning import arms, plots, vocab

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "transfer_learning"


def sources():
    yield from sorted(PACKAGE.rglob("*.py"))
    yield from (ROOT / name for name in ("mlp_transfer.py", "mlp_transfer_pictures.py", "logistic_sgd.py"))


def imports_from(path: Path):
    """(module imported from, name) for every ``from X import name`` in the file, X made absolute."""
    relative_to = path.relative_to(ROOT).with_suffix("").parts
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = relative_to[:len(relative_to) - node.level]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module
            for alias in node.names:
                yield module, alias.name


def test_the_ground_floor_imports_nothing_of_the_package():
    assert [m for m, _ in imports_from(PACKAGE / "vocab.py") if m.startswith("transfer_learning")] == []


def test_every_module_takes_the_shared_names_from_the_ground_floor():
    shared = {name for name in vars(vocab) if not name.startswith("_")} - {"dataclass"}
    sideways = []
    for path in sources():
        for module, name in imports_from(path):
            if name in shared and module != "transfer_learning.vocab":
                sideways.append(f"{path.relative_to(ROOT)}: {name} from {module}")
    assert sideways == []


def test_no_module_of_the_package_imports_the_scripts_command_lines():
    """cli.py holds the three scripts' command lines; the other commands share command.py, below them all."""
    importers = [str(path.relative_to(ROOT)) for path in sorted(PACKAGE.rglob("*.py"))
                 for module, _ in imports_from(path) if module == "transfer_learning.cli"
                 or (module == "transfer_learning" and _ == "cli")]
    assert importers == []


def test_the_arm_registry_is_the_one_list_of_arms():
    assert set(arms.ARMS) == {arm.name for arm in vocab.ARMS}
    assert plots.ARM_COLORS is vocab.ARM_COLORS
    assert vocab.BASELINES == tuple(arm.name for arm in vocab.ARMS[1:])
    assert set(vocab.REFERENCES) == set(vocab.SELECTION_FREE)
    assert not set(vocab.PER_SELECTION) & set(vocab.SELECTION_FREE)
    ranks = [vocab.table_rank(name) for name in (*vocab.REFERENCES, "keep-layers:1", *vocab.PER_SELECTION)]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)


def module_graph() -> dict:
    """Module -> the package's modules it imports (a package's submodule stands for itself, ``from . import x``
    for x)."""
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in names.items():
        deps = set()
        for module, imported in imports_from(path):
            if not module or not module.startswith("transfer_learning"):
                continue
            target = f"{module}.{imported}" if f"{module}.{imported}" in names else module
            while target not in names:
                target = target.rpartition(".")[0]
            deps.add(target)
        graph[name] = deps - {name, "transfer_learning"}  # the package's face runs the PyTensor set-up only
    return graph


def test_the_package_imports_in_one_direction_only():
    """No circle: each module can be read knowing only the modules below it."""
    graph, done, path = module_graph(), set(), []

    def visit(name):
        assert name not in path, " -> ".join([*path[path.index(name):], name])
        if name in done:
            return
        path.append(name)
        for dep in sorted(graph[name]):
            visit(dep)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


#: The commands: the modules with a main(), the only ones that may build on command.py (cli.py is the scripts').
COMMANDS = {"transfer_learning.cli", "transfer_learning.sweep", "transfer_learning.study", "transfer_learning.analysis",
            "transfer_learning.verdicts", "transfer_learning.compat2015", "transfer_learning.predict"}
#: The rooms that only describe results: they compute nothing of a run and import nothing that runs one.
DESCRIBE = {"transfer_learning.stats", "transfer_learning.report", "transfer_learning.plots"}
RUNS = {"transfer_learning.train", "transfer_learning.experiment", "transfer_learning.sweep", "transfer_learning.study",
        "transfer_learning.analysis", "transfer_learning.command", "transfer_learning.cli", "transfer_learning.cluster"}


def test_only_commands_build_on_the_command_layer_and_reports_run_nothing():
    graph = module_graph()
    assert sorted(m for m, deps in graph.items() if "transfer_learning.command" in deps) == sorted(COMMANDS - {
        "transfer_learning.command"})
    assert {m: sorted(graph[m] & RUNS) for m in DESCRIBE} == {m: [] for m in DESCRIBE}
