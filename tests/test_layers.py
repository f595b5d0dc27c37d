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
