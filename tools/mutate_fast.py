"""mutmut against the fast tests of each mutated module: an hour instead of a day (`make mutate-fast`; docs/testing.md).

``make mutate`` runs every mutant against every test that reaches its function, end-to-end runs included,
about 20 s a mutant here. This copies the tracked tree to ``--out``, narrows pyproject's test selection to
FAST_TESTS and runs mutmut there: the unit tests that check a function against a computation written in the
test, and the tests of train.py and compat2015.py, which train networks of a few nodes on a few hundred
examples in seconds. A mutant these tests miss may still be caught by the rest of the suite, so each score is
a lower bound of ``make mutate``'s; a function none of them reaches counts as not tested.
"""

import argparse
import re
import shutil
import subprocess
from pathlib import Path

from tools.mutation_score import MUTMUT, report

ROOT = Path(__file__).resolve().parent.parent
#: The fast tests of the mutated modules: each checks what it runs against a computation written in the test.
FAST_TESTS = [
    "tests/test_transfer.py",
    "tests/test_checkpoint.py",
    *(f"tests/test_rules.py::{name}" for name in (
        "test_centered_scores_a_saturated_unit_low", "test_forward_rules_equal_a_node_by_node_loop",
        "test_initial_and_redrawn_weights_use_the_activations_bound",
        "test_keep_fraction_keeps_exactly_round_f_m_of_the_highest", "test_random_scores_come_from_the_given_generator",
        "test_redo_is_unchanged_when_a_layers_activations_are_scaled",
        "test_relu_init_is_he_uniform_bounded_and_spread",
        "test_shrink_perturb_is_lambda_source_plus_p_fresh",
        "test_taylor_equals_a_node_by_node_backward_pass_under_its_fitted_head", "test_the_rules_edges_by_hand",
        "test_the_taylor_head_is_the_penalized_optimum", "test_utility_uses_the_source_head_for_the_last_hidden_layer",
        "test_probe_network_by_default_and_in_the_weights_precision", "test_taylor_on_a_single_hidden_layer_by_hand",
        "test_softmax_and_log_softmax_shift_each_row_by_its_own_maximum",
        "test_taylor_works_in_float64_on_float32_activations")),
    *(f"tests/test_arms.py::{name}" for name in (
        "test_every_arm_starts_where_its_definition_says",
        "test_a_kept_rate_of_one_means_no_factors_and_relu_redraws_with_he_bounds",
        "test_random_masks_reset_as_many_nodes_elsewhere", "test_reinit_deeper_redraws_the_rows_leaving_reset_nodes",
        "test_metrics_by_hand", "test_the_metrics_edges_and_source_retention_by_hand",
        "test_error_rate_of_a_network_without_hidden_layers",
        "test_error_rate_uses_the_last_hidden_layer_and_tanh_by_default", "test_the_metrics_table_exactly",
        "test_shrink_perturb_and_random_reset_follow_the_runs_settings",
        "test_lp_ft_resolves_to_a_copy_of_the_probes_result",
        "test_a_layer_arm_without_a_whole_count_is_refused_by_name",
        "test_keep_first_layers_redraws_the_deeper_layers_in_order_and_nothing_more")),
    *(f"tests/test_protocol.py::{name}" for name in (
        "test_a_stratified_subset_gives_each_class_its_share_within_one",
        "test_quotas_go_by_largest_remainder_ties_to_the_lower_class",
        "test_a_data_seed_draws_the_subset_its_definition_says_in_every_version",
        "test_whole_splits_and_the_first_examples",
        "test_a_subset_keeps_the_indexed_examples_and_joins_its_fingerprint")),
    "tests/test_compat2015.py",
    "tests/test_train.py",
    "tests/test_damaged_files.py",
    *(f"tests/test_fused.py::{name}" for name in (  # which kernels train.py compiles
        "test_the_kernels_a_model_is_built_with_are_in_the_step_and_the_error_counter",
        "test_the_loss_is_the_kernel_exactly_when_asked_and_an_unknown_kernel_is_an_error",
        "test_the_fused_step_follows_the_unfused_one_over_hundreds_of_steps")),
]


def prepare(out: Path) -> None:
    """A copy of the tracked tree in ``out`` whose mutmut runs FAST_TESTS only."""
    if out.exists():
        shutil.rmtree(out)
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, out / name)
    config = (out / "pyproject.toml").read_text()
    selection = "pytest_add_cli_args_test_selection = [" + ", ".join(f'"{t}"' for t in FAST_TESTS) + "]"
    config, n = re.subn(r"^pytest_add_cli_args_test_selection = .*$", selection, config, flags=re.M)
    assert n == 1, "pyproject.toml's [tool.mutmut] has no pytest_add_cli_args_test_selection line"
    (out / "pyproject.toml").write_text(config)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="/tmp/transfer-learning-mutate-fast",
                        help="where the copy is made and mutmut runs (replaced)")
    parser.add_argument("mutants", nargs="*",
                        help="only these mutants, as mutmut names them (globs: 'transfer_learning.rules*')")
    args = parser.parse_args(argv)
    out = Path(args.out)
    prepare(out)
    subprocess.run([MUTMUT, "run", *args.mutants], cwd=out, stdout=subprocess.DEVNULL)
    return report(out, "mutate_fast")


if __name__ == "__main__":
    raise SystemExit(main())
