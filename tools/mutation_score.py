"""The mutation score per module, from mutmut's results (`make mutate` prints it; docs/testing.md).

``python -m tools.mutation_score`` reads ``mutmut results --all true`` (one ``name: status`` line a mutant,
names like ``transfer_learning.transfer.x_reinitialize__mutmut_3``) and prints, per module of pyproject.toml's
[tool.mutmut] source_paths, how many mutants were killed, how many survived and the score, killed over the
mutants that were tested (not the ones never covered or not yet run). The goal is 90 % in every module.
"""

import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: mutmut's statuses that count as the test suite catching the mutant
CAUGHT = {"killed", "timeout", "segfault", "caught by type check"}


def modules() -> list[str]:
    """The modules `make mutate` mutates, as dotted names."""
    paths = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]["source_paths"]
    return [p.removesuffix(".py").replace("/", ".") for p in paths]


def score(lines) -> dict:
    """{module: Counter of statuses} from ``mutmut results --all true`` lines."""
    by_module = {m: Counter() for m in modules()}
    for line in lines:
        name, _, status = line.strip().rpartition(": ")
        owner = max((m for m in by_module if name.startswith(m + ".")), key=len, default=None)
        if owner is not None:
            by_module[owner][status] += 1
    return by_module


def table(by_module) -> str:
    rows = ["| module | mutants | caught | survived | not tested | score |", "|---|---|---|---|---|---|"]
    for module, counts in by_module.items():
        caught = sum(counts[s] for s in CAUGHT)
        survived = counts["survived"]
        tested = caught + survived
        rows.append(f"| {module} | {sum(counts.values())} | {caught} | {survived} | "
                    f"{sum(counts.values()) - tested} | {f'{100 * caught / tested:.0f} %' if tested else '-'} |")
    return "\n".join(rows)


#: the mutmut of this environment (make mutate installs it beside this Python)
MUTMUT = str(Path(sys.executable).parent / "mutmut")


def report(folder, caller: str) -> int:
    """Print the per-module table of the mutmut run in ``folder`` (0), or say in one line why not (1)."""
    result = subprocess.run([MUTMUT, "results", "--all", "true"], cwd=folder, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"{caller}: mutmut results failed: {result.stderr.strip()}", file=sys.stderr)
        return 1
    print(table(score(result.stdout.splitlines())))
    return 0


def main() -> int:
    return report(ROOT, "mutation_score")


if __name__ == "__main__":
    raise SystemExit(main())
