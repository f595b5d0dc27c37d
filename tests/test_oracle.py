"""The oracle rule (the rise in held-out target loss when a node is removed), the score signal (Spearman with the
oracle) and the scale-matched control, each against a computation of its own."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from tests.helpers import make_weights
from transfer_learning import controls, oracle, rules
from transfer_learning.data import Split
from transfer_learning.transfer import top_fraction_masks


def loss_with_outgoing_row_zeroed(weights, head, x, y, layer, node):
    """Mean cross-entropy with node ``node`` of hidden layer ``layer`` cut off by zeroing its outgoing weights (the
    next hidden layer's row, or the read-out's), the network run in float64 from scratch."""
    w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    out_w = np.asarray(head["output_W"], dtype=np.float64).copy()
    n_layers = sum(1 for k in w if k.endswith("_W") and k.startswith("hidden"))
    following = f"hidden{layer + 1}_W"
    if node is not None and layer + 1 < n_layers:
        w[following] = w[following].copy()
        w[following][node, :] = 0
    elif node is not None:
        out_w[node, :] = 0
    h = np.asarray(x, dtype=np.float64)
    for i in range(n_layers):
        h = np.tanh(h @ w[f"hidden{i}_W"] + w[f"hidden{i}_b"])
    logits = h @ out_w + head["output_b"]
    logits = logits - logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(y)), y].mean()


def test_oracle_scores_equal_the_loss_rise_of_cutting_each_node_off():
    rng = np.random.default_rng(3)
    weights = make_weights(rng, sizes=(16, 8, 6), n_out=3)
    fit = Split(rng.uniform(size=(40, 16)).astype(np.float32), rng.integers(0, 3, 40))
    held_out = Split(rng.uniform(size=(30, 16)).astype(np.float32), rng.integers(0, 3, 30))
    scores, extras = oracle.node_scores(weights, fit, held_out, 3, "tanh", l2=0.01)
    head = rules.fit_probe_head(np.tanh(np.tanh(fit.x @ weights["hidden0_W"] + weights["hidden0_b"])
                                        @ weights["hidden1_W"] + weights["hidden1_b"]), fit.y, 3, 0.01)
    head32 = {k: np.asarray(head[k], dtype=np.float32) for k in ("output_W", "output_b")}
    intact = loss_with_outgoing_row_zeroed(weights, head32, held_out.x, held_out.y, 0, None)
    assert extras["intact_loss"] == pytest.approx(intact, abs=2e-6)
    assert [s.shape for s in scores] == [(8,), (6,)]
    assert extras["fit_examples"] == 40 and extras["loss_examples"] == 30
    for layer, layer_scores in enumerate(scores):
        for node, score in enumerate(layer_scores):
            removed = loss_with_outgoing_row_zeroed(weights, head32, held_out.x, held_out.y, layer, node)
            assert score == pytest.approx(removed - intact, abs=4e-6), (layer, node)


def test_the_oracle_rule_reads_the_data_it_is_given_and_refuses_without():
    rng = np.random.default_rng(4)
    weights = make_weights(rng, sizes=(16, 8, 6), n_out=3)
    images = rng.uniform(size=(20, 16)).astype(np.float32)
    probe = rules.probe_network(weights, images, rng.integers(0, 3, 20), 3)
    with pytest.raises(ValueError, match="the oracle rule needs target data"):
        rules.score("oracle", probe, rules.RuleSettings())
    data = (Split(images, probe.labels), Split(images[:10], probe.labels[:10]))
    scored = rules.score("oracle", probe, rules.RuleSettings(oracle_data=data))
    direct, _ = oracle.node_scores(weights, *data, 3, "tanh", 0.01)
    assert all(np.array_equal(a, b) for a, b in zip(scored.layers, direct, strict=True))


def ranks(values):
    order = np.argsort(values)
    out = np.empty(len(values))
    out[order] = np.arange(len(values))
    return out


def test_spearman_is_the_correlation_of_ranks_and_nan_for_a_constant_layer():
    rng = np.random.default_rng(5)
    a, b = [rng.normal(size=9), rng.normal(size=7)], [rng.normal(size=9), np.ones(7)]
    rho = oracle.spearman_by_layer(a, b)
    assert rho[0] == pytest.approx(np.corrcoef(ranks(a[0]), ranks(b[0]))[0, 1], abs=1e-12)
    assert np.isnan(rho[1])


def test_scale_matched_redraws_exactly_the_kept_columns_at_the_source_layers_scale():
    rng = np.random.default_rng(6)
    source = make_weights(rng, sizes=(200, 300, 6), n_out=3)
    source["hidden0_W"] = (source["hidden0_W"] * 3 + 0.2).astype(np.float32)  # a scale unlike a fresh draw's
    transferred = {k: v.copy() for k, v in make_weights(np.random.default_rng(7), sizes=(200, 300, 6)).items()}
    masks = top_fraction_masks([rng.uniform(size=300), rng.uniform(size=6)], 0.5)
    out = controls.scale_matched(transferred, source, masks, np.random.default_rng(8))
    kept = np.flatnonzero(masks[0])
    assert_array_equal(out["hidden0_W"][:, ~masks[0]], transferred["hidden0_W"][:, ~masks[0]])
    assert_array_equal(out["hidden0_b"][~masks[0]], transferred["hidden0_b"][~masks[0]])
    assert not np.any(out["hidden0_W"][:, kept] == transferred["hidden0_W"][:, kept])
    drawn = out["hidden0_W"][:, kept]
    assert drawn.mean() == pytest.approx(source["hidden0_W"].mean(), abs=0.01)
    assert drawn.std() == pytest.approx(source["hidden0_W"].std(), rel=0.01)
    assert_array_equal(out["output_W"], transferred["output_W"])


def test_scale_matched_keeps_the_random_rules_nodes():
    rng = np.random.default_rng(9)
    probe = rules.probe_network(make_weights(rng), rng.uniform(size=(10, 16)).astype(np.float32))
    random = rules.score("random", probe, rules.RuleSettings(rng=np.random.default_rng(11)))
    matched = rules.score("scale-matched", probe, rules.RuleSettings(rng=np.random.default_rng(11)))
    assert all(np.array_equal(a, b) for a, b in zip(random.layers, matched.layers, strict=True))


def test_the_controls_generator_leaves_the_runs_nine_alone():
    from transfer_learning.experiment import spawn_rngs

    nine = [g.uniform() for g in spawn_rngs(3, 9)]
    assert nine == [g.uniform() for g in spawn_rngs(3, 9)]
    assert controls.generator(3).uniform() not in nine
    assert controls.generator(3).uniform() == np.random.default_rng(np.random.SeedSequence(3).spawn(10)[9]).uniform()
