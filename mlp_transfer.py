r"""Train an MLP on a source task, keep hidden nodes active on the target's probe set, re-init the rest, retrain.

    python mlp_transfer.py                                  # MNIST digits 0-4 -> 5-9
    python mlp_transfer.py --source mnist --target mnist    # the 2015 task pair (same database twice), fixed
    python mlp_transfer.py --compat 2015                    # what the 2015 script computed, defects included
    python mlp_transfer.py --hidden-sizes 500 --learning-rate 0.01 --n-epochs 1000 --source mnist --no-transfer \
        --init-rng legacy                                   # the tutorial's mlp.py, its draws and its numbers

Writes a run directory (--out, default runs/<timestamp>): config.json, out.txt, outTransfer.txt,
history.csv, transfer.json, probe_images.npy, target_indices.npz, weights_source.npz,
weights_transferred.npz, weights_final.npz, results.json, summary.md, curves.png (docs/usage.md).
"""

from transfer_learning import cli, command


def main(argv=None) -> int:
    """The script's entry point, also the console script ``mlp-transfer``; returns the exit status."""
    return cli.main_transfer(argv, doc=__doc__, prog=command.script_name("mlp-transfer", "mlp_transfer.py"))


program = command.as_program(main)

if __name__ == "__main__":
    raise SystemExit(program())
