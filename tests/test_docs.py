"""The documentation a reader checks: the README stays short, every link lands, and every make target and
flag it names exists."""

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
#: Flags of other programs that the docs quote: pip, a Dask worker, pytest's option of this suite, XLA.
OTHER_PROGRAMS_FLAGS = {"--no-deps", "--nthreads", "--port", "--runslow", "--xla_cpu_multi_thread_eigen"}


def anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors_of(page: Path) -> set:
    seen, out = {}, set()
    in_code = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        name = anchor(line.lstrip("#"))
        out.add(name if name not in seen else f"{name}-{seen[name]}")
        seen[name] = seen.get(name, 0) + 1
    return out


def links(page: Path):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if not re.match(r"^[a-z]+:", target):
            yield target


def test_the_readme_is_at_most_250_lines():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves_to_a_file_and_anchor(page):
    for target in links(page):
        path, _, fragment = target.partition("#")
        where = (page.parent / path).resolve() if path else page
        assert where.exists(), f"{page.name}: {target} does not exist"
        assert ROOT in where.parents or where == ROOT, f"{page.name}: {target} leaves the repository"
        if fragment:
            assert where.suffix == ".md" and fragment in anchors_of(where), f"{page.name}: no anchor {target}"


def test_the_anchor_rule_on_known_headings():
    assert anchor(" What a run writes") == "what-a-run-writes"
    assert anchor(" `--compat 2015`") == "--compat-2015"
    assert anchor(" The tutorial's numbers, exactly") == "the-tutorials-numbers-exactly"


def code_spans(text: str) -> list[str]:
    blocks = re.findall(r"```.*?```", text, flags=re.S)
    rest = re.sub(r"```.*?```", "", text, flags=re.S)
    return blocks + re.findall(r"`([^`\n]+)`", rest)


def makefile_targets() -> set:
    return set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), flags=re.M))


def test_every_make_target_named_exists():
    targets = makefile_targets()
    named = {t for page in PAGES for span in code_spans(page.read_text())
             for t in re.findall(r"\bmake (?:[A-Z]+=\S+ )*([a-z][a-z-]*)", span)}
    assert named, "the docs name no make target"
    assert named <= targets, named - targets


def help_flags(main, *args) -> set:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(*args)
    return set(re.findall(r"--[a-z][a-z0-9_-]*[a-z0-9]", out.getvalue()))


def known_flags() -> set:
    from transfer_learning import analysis, cli, compat2015, predict, study, sweep

    flags = set()
    flags |= help_flags(cli.main_transfer, ["--help"], None, True)
    flags |= help_flags(cli.main_logistic, ["--help"])
    flags |= help_flags(sweep.main, ["--help"])
    flags |= help_flags(study.main, ["--help"])
    flags |= help_flags(analysis.main, ["--help"])
    flags |= help_flags(compat2015.main, ["--help"])
    flags |= help_flags(predict.main, ["--help"])
    for script in [*(ROOT / "bench").glob("*.py"), *(ROOT / "tools").glob("*.py"), ROOT / "tests" / "test_golden.py"]:
        flags |= set(re.findall(r"add_argument\(\s*\"(--[a-z0-9-]+)\"", script.read_text()))
    return flags | OTHER_PROGRAMS_FLAGS


def test_every_flag_named_exists():
    known = known_flags()
    assert {"--lr-grid", "--data-seeds", "--ladder", "--modes"} <= known
    named = {f for page in PAGES for span in code_spans(page.read_text())
             for f in re.findall(r"(?<![\w-])--[a-z][a-z0-9_-]*[a-z0-9]", span)}
    assert named - known == set()


def test_make_mutate_covers_exactly_the_modules_the_results_rest_on():
    """The mutation-testing habit (docs/testing.md): `make mutate` runs mutmut over these modules, and prints
    their scores."""
    import tomllib

    from tools import mutation_score

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    assert sorted(config["source_paths"]) == sorted(
        f"transfer_learning/{m}.py" for m in ("transfer", "rules", "train", "arms", "checkpoint", "metrics",
                                              "compat2015", "data/subsets"))
    recipe = re.search(r"^mutate:.*?\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), flags=re.M).group(1)
    assert "mutmut==3.8.1" in recipe and "mutmut run" in recipe and "tools.mutation_score" in recipe
    assert "mutmut==3.8.1" in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["mutate"]
    lines = ["    transfer_learning.transfer.x_keep_masks__mutmut_1: killed",
             "    transfer_learning.transfer.x_keep_masks__mutmut_2: survived",
             "    transfer_learning.data.subsets.x_class_quotas__mutmut_1: timeout",
             "    transfer_learning.train.x_fit__mutmut_9: not checked"]
    counts = mutation_score.score(lines)
    assert counts["transfer_learning.transfer"] == {"killed": 1, "survived": 1}
    assert counts["transfer_learning.data.subsets"] == {"timeout": 1}
    text = mutation_score.table(counts)
    assert "| transfer_learning.transfer | 2 | 1 | 1 | 0 | 50 % |" in text
    assert "| transfer_learning.train | 1 | 0 | 0 | 1 | - |" in text


def test_make_mutate_fast_runs_the_same_mutants_against_the_fast_tests(tmp_path):
    import tomllib

    from tools import mutate_fast

    mutate_fast.prepare(tmp_path / "copy")
    config = tomllib.loads((tmp_path / "copy" / "pyproject.toml").read_text())["tool"]["mutmut"]
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    assert config["source_paths"] == ours["source_paths"]
    assert config["pytest_add_cli_args_test_selection"] == mutate_fast.FAST_TESTS
    for test in mutate_fast.FAST_TESTS:  # every named test exists
        path, _, name = test.partition("::")
        assert (ROOT / path).is_file() and (not name or f"def {name}(" in (ROOT / path).read_text()), test
    assert (tmp_path / "copy" / "transfer_learning" / "fused.py").read_bytes() == \
        (ROOT / "transfer_learning" / "fused.py").read_bytes()
    recipe = re.search(r"^mutate-fast:.*?(?=^\S)", (ROOT / "Makefile").read_text(), re.M | re.S).group(0)
    assert "mutmut==3.8.1" in recipe and "tools.mutate_fast $(ARGS)" in recipe


def test_a_survivors_change_is_applied_where_its_lines_are_found_once():
    from tools.mutation_recheck import mutated_source

    source = "class A:\n    def f(self, x):\n        y = x + 1\n        return y\n\n\ndef g():\n    return 2\n"
    method = ("# m: survived\n--- a.py\n+++ a.py\n@@ -1,3 +1,3 @@\n def f(self, x):\n-    y = x + 1\n+    y = x - 1\n"
              "     return y\n")
    assert mutated_source(method, source) == source.replace("x + 1", "x - 1")  # a method, printed dedented
    moved = method.replace(" def f(self, x):", " def f(self, x, z=0):")  # its context changed since the run
    assert mutated_source(moved, source) == source.replace("x + 1", "x - 1")  # the changed lines alone still found
    gone = "# m: survived\n--- a.py\n+++ a.py\n@@ -1,2 +1,2 @@\n def g():\n-    return 3\n+    return 4\n"
    assert mutated_source(gone, source) is None
    twice = "# m: survived\n--- a.py\n+++ a.py\n@@ -1,1 +1,1 @@\n-    return 2\n+    return 3\n"
    assert mutated_source(twice, source + "def h():\n    return 2\n") is None  # two places: not applied at a guess
    part = "# m: survived\n--- a.py\n+++ a.py\n@@ -1,1 +1,1 @@\n-x + 1\n+x - 1\n"
    assert mutated_source(part, source) is None  # whole lines only: the tail of a line is not that line


def test_a_recheck_counts_a_mutant_whose_tests_never_end_as_caught_and_puts_the_file_back(tmp_path, monkeypatch):
    import io
    import subprocess

    from tools import mutation_recheck

    line = "                h.next_minibatch = minibatch_index + 1"
    show = (f"--- transfer_learning/train.py\n+++ transfer_learning/train.py\n@@ -1,1 +1,1 @@\n-{line}\n"
            f"+{line.replace('+ 1', '+ 2')}\n")
    copy = tmp_path / "copy"
    (copy / "transfer_learning").mkdir(parents=True)
    original = (ROOT / "transfer_learning" / "train.py").read_text()
    (copy / "transfer_learning" / "train.py").write_text(original)
    seen = []

    def run(args, cwd=None, capture_output=False, text=False, check=False, timeout=None):
        if args[1] == "show":
            return subprocess.CompletedProcess(args, 0, stdout=show)
        seen.append(((copy / "transfer_learning" / "train.py").read_text(), timeout))
        raise subprocess.TimeoutExpired(args, timeout)

    monkeypatch.setattr(mutation_recheck, "prepare", lambda folder: None)
    monkeypatch.setattr(mutation_recheck.subprocess, "run", run)
    results = mutation_recheck.recheck(tmp_path, ["m1"], ["tests/test_train.py"], copy, out=io.StringIO(), timeout=7)
    assert results == {"m1": "caught (timeout)"}
    assert seen[0][1] == 7 and "minibatch_index + 2" in seen[0][0]  # the tests ran on the mutant
    assert (copy / "transfer_learning" / "train.py").read_text() == original  # and the file was put back


#: A claim in the generated pattern of conclusions.md: a difference, an equivalence, or an inconclusive test.
CLAIMS = (r"[\w:-]+(?: \(reinit-deeper\))? beats [^()*]*?\(paired t over \d+ replicates, Holm-adjusted p [=<] [\d.]+\)",
          r"[\w:-]+(?: \(reinit-deeper\))? and [\w:-]+ are equivalent [^()*]*?\(TOST over \d+ replicates, "
          r"Holm-adjusted p [=<] [\d.]+\)",
          r"[\w:-]+(?: \(reinit-deeper\))? against [^:*]*?: inconclusive, difference [+-][\d.]+ ± [\d.]+ pp",
          # the study's overview (study.md): in how many cells a claim is shown, either way
          r"(?:A rule|[\w:-]+) is shown better than [^*]*? in \d+ of \d+ cells(?: \([^)]*\))?, and worse in \d+ of "
          r"\d+ cells(?: \([^)]*\))?",
          r"[\w:-]+ helps against scratch at [\d, ]+ examples[^.*]*",
          r"What a cell can see: the difference [^*]*? target examples",
          r"[\w:-]+ is worse than scratch at [\d, ]+ examples",
          # the confirmation study's answer (primary.md): a member's pooled difference, intervals and verdict
          r"(?:With \w+ at|At) \d+ target examples, [\w:-]+ minus random is [+-][\d.]+ pp \([^)]*\): [^*]*?"
          r"(?:inconclusive|\((?:firm|provisional)\))",
          r"A new cell's difference would lie in \[[^\]]*\] \(95 % prediction interval, tau [\d.]+ pp; "
          r"descriptive\)")


@pytest.mark.parametrize("page", [ROOT / "README.md", ROOT / "docs" / "results.md"], ids=lambda p: p.name)
def test_every_tested_claim_in_the_findings_is_quoted_from_a_committed_conclusions_file(page):
    """The findings say nothing stronger than a test: each claim written in the conclusions' pattern is, word
    for word, a sentence (or the start of one) of a committed conclusions.md, study.md or primary.md, not of the
    superseded ones kept in docs/results/unfused/."""
    results = ROOT / "docs" / "results"
    superseded = results / "unfused"  # the tables remade since (kept to compare): not what the findings may quote
    generated = " ".join(" ".join(p.read_text().split()) for p in
                         [*results.rglob("*.conclusions.md"), *results.rglob("study.md"), *results.rglob("primary.md")]
                         if superseded not in p.parents)
    text = " ".join(page.read_text().split())
    claims = [c for pattern in CLAIMS for c in re.findall(pattern, text)]
    if page.name == "README.md":
        assert claims, "the README's findings quote no test"
    missing = [c for c in claims if c not in generated]
    assert not missing, missing


def test_under_mutmut_a_mutants_tests_run_quickest_first(tmp_path, monkeypatch):
    """conftest's ordering: by the seconds mutmut's stats recorded (unknown tests first), only where mutmut runs."""
    from types import SimpleNamespace

    from tests.conftest import _quickest_first

    items = [SimpleNamespace(nodeid=n) for n in ("tests/a.py::slow", "tests/b.py::quick", "tests/c.py::new")]
    monkeypatch.chdir(tmp_path)
    _quickest_first(items)
    assert [i.nodeid for i in items] == ["tests/a.py::slow", "tests/b.py::quick", "tests/c.py::new"]  # no stats
    (tmp_path / "mutmut-stats.json").write_text(json.dumps(
        {"duration_by_test": {"tests/a.py::slow": 8.5, "tests/b.py::quick": 0.2}}))
    _quickest_first(items)
    assert [i.nodeid for i in items] == ["tests/c.py::new", "tests/b.py::quick", "tests/a.py::slow"]


#: A row of primary.md's answer table or its descriptive one: activation, size, rule or comparison, then the signed
#: pooled difference and an interval.
ANSWER_ROW = r"^\| (?:tanh|relu|-) \| \d+ \| [^|]+ \| [+-][\d.]+ \| \[.*\|$"


@pytest.mark.parametrize("page", [ROOT / "README.md", ROOT / "docs" / "results.md"], ids=lambda p: p.name)
def test_every_row_of_the_answer_quoted_is_a_row_of_a_committed_primary_md(page, tmp_path):
    rows = {line for p in (ROOT / "docs" / "results").rglob("primary.md") for line in p.read_text().splitlines()}
    quoted = re.findall(ANSWER_ROW, page.read_text(), flags=re.MULTILINE)
    assert not [row for row in quoted if row not in rows]
    # the check itself: a row of the answer's shape is found, and one changed by a digit is not among the rows
    row = "| tanh | 1000 | mean-abs | -0.10 | [-0.30, +0.10] | [-0.20, +0.00] | inconclusive | [-1.00, +0.80] | 5 |"
    described = "| relu | 3000 | lp-ft minus utility | -0.52 | [-0.90, -0.14] | 0.21 | 5 |"
    assert re.findall(ANSWER_ROW, f"text\n{row}\n{described}\nmore", flags=re.MULTILINE) == [row, described]
    assert row not in rows
