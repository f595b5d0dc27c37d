"""Weight maps and learning curves. The only module that imports matplotlib (Agg: no display)."""

import math

import numpy as np

from .atomic import write_atomically
from .vocab import ARM_COLORS, PER_SELECTION, is_layer_arm


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display), imported only when a picture is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _tile_side(n_in: int) -> int:
    side = math.isqrt(n_in)
    if side * side != n_in:
        raise ValueError(f"cannot show {n_in} inputs as a square image")
    return side


def _grid(tiles, titles, path, title, frame_colors=None, cmap="gray", symmetric=False):
    plt = pyplot()
    n = len(tiles)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.9 + 0.6), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= n:
            ax.axis("off")
            continue
        tile = tiles[k]
        if symmetric:
            lim = float(np.abs(tile).max()) or 1.0
            ax.imshow(tile, cmap=cmap, vmin=-lim, vmax=lim)
        else:
            ax.imshow(tile, cmap=cmap)
        ax.set_title(titles[k], fontsize=5, pad=1)
        if frame_colors is not None:
            for spine in ax.spines.values():
                spine.set_edgecolor(frame_colors[k])
                spine.set_linewidth(2.5)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(pad=0.2, rect=(0, 0, 1, 1 - 0.5 / (rows * 0.9 + 0.6)))
    write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)


def weight_grid(W: np.ndarray, path, title: str, kept=None) -> None:
    """One tile per first-layer node: its incoming weights [n_in] as a square image.

    With ``kept`` (a boolean mask), kept nodes get a green frame and re-initialized ones red.
    """
    side = _tile_side(W.shape[0])
    tiles = [W[:, i].reshape(side, side) for i in range(W.shape[1])]
    titles = [str(i) for i in range(W.shape[1])]
    colors = None
    if kept is not None:
        colors = ["tab:green" if k else "tab:red" for k in kept]
        title = f"{title}  (green: kept {int(np.sum(kept))}, red: re-initialized {int(np.size(kept) - np.sum(kept))})"
    _grid(tiles, titles, path, title, frame_colors=colors, cmap="RdBu_r", symmetric=True)


def image_grid(images: np.ndarray, path, title: str) -> None:
    """The probe images, one tile each."""
    side = _tile_side(images.shape[1])
    _grid([im.reshape(side, side) for im in images], [str(i) for i in range(len(images))], path, title)


def per_node_images(W: np.ndarray, directory, prefix: str) -> None:
    """The 2015 files: <prefix><i>.png, one per node (or per image for inputImage)."""
    plt = pyplot()
    side = _tile_side(W.shape[0])
    for i in range(W.shape[1]):
        tile = W[:, i].reshape(side, side)
        write_atomically(directory / f"{prefix}{i}.png",
                         lambda f, tile=tile: plt.imsave(f, tile, cmap="gray", format="png"))


CURVE_LABELS = {"source": "source task", "target": "target: transfer"}


def learning_curves(histories, path) -> None:
    """Validation error (%) at each check against epochs, one line per phase or arm."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for history in histories:
        epochs = [c.epoch - 1 + c.minibatch / history.n_train_batches for c in history.checks]
        label = CURVE_LABELS.get(history.phase, history.phase.removeprefix("target-"))
        ax.plot(epochs, [c.validation_error * 100 for c in history.checks], marker=".", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation error (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)


LAYER_COLORS = {"keep-layers": "darkgreen", "freeze-layers": "navy", "self-layers": "darkred"}
RULE_COLORS = {"mean-abs": "tab:blue", "centered": "tab:cyan", "redo": "tab:red", "utility": "tab:purple",
               "apoz": "tab:olive", "taylor": "tab:pink", "random": "black"}


def sweep_plot(summary, path, title) -> None:
    """Target metrics against the threshold or keep fraction: selective arms as lines with 95 % bands (one
    per rule when the sweep compares rules), selection-free arms (scratch, finetune, shrink-perturb) as
    horizontal bands, and, against thresholds, the fraction of nodes kept on a second axis.

    ``summary`` maps (arm, rule, selection) to {metric: (mean, half-width)}, as sweep.summarize gives;
    selection is (kind, value), or None for the selection-free arms.
    """
    plt = pyplot()
    kinds = {sel[0] for (_, _, sel) in summary if sel is not None}
    kind = "keep_fraction" if "keep_fraction" in kinds else "threshold"
    rules = sorted({rule for (arm, rule, sel) in summary if arm == "transfer" and sel and sel[0] == kind},
                   key=lambda r: list(RULE_COLORS).index(r) if r in RULE_COLORS else 99)
    if any(" +deeper" not in r for r in rules):  # with both --reinit-deeper values, the plot shows "no" (the
        rules = [r for r in rules if " +deeper" not in r]  # tables have both)
    if len(rules) > 1:
        lines = [(("transfer", rule), rule, RULE_COLORS.get(rule)) for rule in rules]
    else:
        lines = [((arm, rules[0] if rules else None), arm, ARM_COLORS[arm])
                 for arm in PER_SELECTION]
    values = sorted({sel[1] for (_, _, sel) in summary if sel is not None and sel[0] == kind})
    free = sorted({arm for (arm, rule, sel) in summary if sel is None and rule is None},
                  key=lambda a: list(ARM_COLORS).index(a) if a in ARM_COLORS else 99)
    n_legend = len(free) + (len(lines) if len(lines) > 1 else 3)
    legend_rows = -(-n_legend // 4)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2 + 0.22 * legend_rows))
    panels = [("test_error_pct", "target test error (%)"),
              ("transfer_ratio", "transfer ratio (validation AUC vs scratch)")]
    compare_rules = len(rules) > 1 and "random" in rules
    if compare_rules:  # the question of a rules sweep: which rule beats random selection, paired by seed
        panels[1] = ("test_error_minus_random_rule_pp", "minus the random rule (pp, paired)")
    spread = (values[-1] - values[0]) / 60 if len(values) > 1 else 0.0
    for ax, (key, label) in zip(axes, panels, strict=True):
        if key == "test_error_minus_random_rule_pp":
            ax.axhline(0, color="black", lw=1)
        for arm in free:
            stats = summary[(arm, None, None)]
            if math.isnan(stats[key][0]):
                continue
            mean, half = stats[key]
            color = ARM_COLORS.get(arm) or LAYER_COLORS.get(arm.partition(":")[0], "tab:gray")
            ax.axhline(mean, color=color, lw=1.5, ls=":" if is_layer_arm(arm) else "-",
                       label=f"{arm} (mean, 95 % band)")
            if not math.isnan(half):
                ax.axhspan(mean - half, mean + half, color=color, alpha=0.15)
        for k, ((arm, rule), name, color) in enumerate(lines):
            points = [(v, *summary[(arm, rule, (kind, v))][key]) for v in values if (arm, rule, (kind, v)) in summary]
            points = [p for p in points if not math.isnan(p[1])]
            if not points:
                continue
            xs, means, halves = (np.array(column, dtype=float) for column in zip(*points, strict=True))
            if len(lines) > 3:  # many rules: interval bars, each line nudged sideways so none hides another
                ax.errorbar(xs + (k - (len(lines) - 1) / 2) * spread, means, yerr=np.nan_to_num(halves), marker="o",
                            ms=4, capsize=2, color=color, label=f"{name} (mean, 95 % interval)")
            else:
                ax.plot(xs, means, marker="o", color=color, label=f"{name} (mean, 95 % interval)")
                ax.fill_between(xs, means - np.nan_to_num(halves), means + np.nan_to_num(halves), color=color,
                                alpha=0.15)
        ax.set_xlabel("keep fraction (nodes kept per layer)" if kind == "keep_fraction"
                      else "threshold on the rule's score")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        kept = [(v, summary[("transfer", rules[0], (kind, v))]["fraction_kept"][0]) for v in values
                if rules and ("transfer", rules[0], (kind, v)) in summary]
        if kind == "threshold" and kept and len(rules) == 1:
            twin = ax.twinx()
            twin.plot(*zip(*kept, strict=True), ls="--", color="black", alpha=0.5, marker=".",
                      label="fraction of nodes kept")
            twin.set_ylim(-0.02, 1.02)
            twin.set_ylabel("fraction of hidden nodes kept (dashed)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, min(0.5, 0.06 + 0.045 * legend_rows), 1, 1))
    write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)


def study_plot(series: dict, path) -> None:
    """The transfer map: for each (pair, width), test error against target size (log scale), one line per
    reference arm and per rule at its better keep fraction, with 95 % bands; beside it the paired advantages (best
    rule minus random, best reference minus scratch). ``series`` is study.map_series's."""
    plt = pyplot()
    keys = sorted(series)
    fig, axes = plt.subplots(max(1, len(keys)), 2, figsize=(12, 3.6 * max(1, len(keys))), squeeze=False)
    for row, key in zip(axes, keys, strict=False):
        lines, advantage = series[key]["lines"], series[key]["advantage"]
        for name, points in lines.items():
            xs, means, halves = (np.array(c, dtype=float) for c in zip(*sorted(points), strict=True))
            color = ARM_COLORS.get(name) or RULE_COLORS.get(name) or LAYER_COLORS.get(name.partition(":")[0])
            style = "--" if name in RULE_COLORS else ("-" if name in ARM_COLORS else ":")
            row[0].plot(xs, means, ls=style, marker="o", ms=3, color=color, label=name)
            row[0].fill_between(xs, means - np.nan_to_num(halves), means + np.nan_to_num(halves), color=color,
                                alpha=0.1)
        for name, points in advantage.items():
            xs, means, halves = (np.array(c, dtype=float) for c in zip(*sorted(points), strict=True))
            row[1].errorbar(xs, means, yerr=np.nan_to_num(halves), marker="o", capsize=3, label=name)
        row[1].axhline(0, color="black", lw=1)
        sizes = sorted({point[0] for points in lines.values() for point in points})
        for ax, label in zip(row, ("target test error (%)", "paired advantage (pp, negative: better)"),
                             strict=True):
            ax.set_xscale("log")
            ax.set_xticks(sizes, [f"{size:,}" for size in sizes])  # the sizes themselves, not powers of ten
            ax.minorticks_off()
            ax.set_xlabel("target training examples")
            ax.set_ylabel(label)
            ax.set_title(f"{key[0]}, {key[1]}", fontsize=9)
            ax.grid(alpha=0.3)
        row[0].legend(fontsize=6, ncol=2)
        row[1].legend(fontsize=7)
    fig.tight_layout()
    write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)


def primary_plot(result: dict, path) -> None:
    """primary.png: each primary rule (the oracle in black) minus random against target size. One row per
    activation; a panel per task pair and width with each cell's mean and 95 % interval over its replicates
    (descriptive), and a last panel with the pooled difference and its Holm-adjusted interval (the answer), behind it
    a faint line for the 95 % prediction interval of a new cell (descriptive); the equivalence band shaded in every
    panel."""
    plt = pyplot()
    entries = [e for e in result["primary"] if e["test"] == "superiority"]
    activations = list(dict.fromkeys(e["activation"] for e in entries)) or [None]
    rules = list(dict.fromkeys(e["rule"] for e in entries))
    facets = list(dict.fromkeys((c["pair"], c["width"]) for e in entries for c in e["cells_descriptive"]))
    margin = result["hypotheses"]["equivalence_margin_pp"]
    columns = len(facets) + 1
    fig, axes = plt.subplots(len(activations), columns, figsize=(2.6 * columns, 3.0 * len(activations)),
                             squeeze=False, sharey="row")
    colors = {rule: "black" if rule == "oracle" else f"C{k}" for k, rule in enumerate(rules)}
    for row, activation in zip(axes, activations, strict=True):
        mine = [e for e in entries if e["activation"] == activation]
        sizes = sorted({e["size"] for e in mine})

        def place(k, size, sizes=sizes):
            return sizes.index(size) + (k - (len(rules) - 1) / 2) * 0.15

        def point(ax, k, size, mean, low, high, label=None):
            x = place(k, size)
            if not (math.isnan(mean) or math.isnan(low) or math.isnan(high)):
                ax.errorbar([x], [mean], yerr=[[mean - low], [high - mean]], fmt="o", ms=3, capsize=2,
                            color=colors[rules[k]], label=label)

        for ax, facet in zip(row[:-1], facets, strict=True):
            for k, rule in enumerate(rules):
                for e in (e for e in mine if e["rule"] == rule):
                    for c in (c for c in e["cells_descriptive"] if (c["pair"], c["width"]) == facet):
                        point(ax, k, e["size"], c["mean"], c["mean"] - c["half_95"], c["mean"] + c["half_95"])
            ax.set_title(f"{facet[0]}\n{facet[1]}", fontsize=7)
        for k, rule in enumerate(rules):
            for e in (e for e in mine if e["rule"] == rule):
                low, high = e.get("prediction_95") or (math.nan, math.nan)
                if not (math.isnan(low) or math.isnan(high)):
                    row[-1].vlines(place(k, e["size"]), low, high, color=colors[rule], lw=3, alpha=0.25)
                low, high = e["interval"]
                point(row[-1], k, e["size"], e["mean"], low, high, label=rule if e["size"] == sizes[0] else None)
        row[-1].set_title("pooled, Holm-adjusted\n(faint: a new cell, 95 %)", fontsize=7)
        row[-1].legend(fontsize=6)
        row[0].set_ylabel(f"{activation or ''} rule minus random (pp)", fontsize=8)
        for ax in row:
            ax.axhspan(-margin, margin, color="0.9")
            ax.axhline(0, color="0.5", lw=0.8)
            ax.set_xticks(range(len(sizes)), [str(s) for s in sizes], fontsize=7)
            ax.tick_params(axis="y", labelsize=7)
    fig.suptitle(f"test error, rule minus random; shaded: ±{margin:g} pp (the equivalence margin)", fontsize=9)
    fig.tight_layout()
    write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)
