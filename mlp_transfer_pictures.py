"""The transfer run of mlp_transfer.py, plus pictures of the first-layer weights.

    python mlp_transfer_pictures.py              # grids: weights_init.png, weights_trained.png,
                                                 # weights_transfer.png (kept green, re-initialized red),
                                                 # probe_images.png
    python mlp_transfer_pictures.py --per-node   # also the 2015 files wMapInit<i>.png, wMapTrained<i>.png,
                                                 # wMapTransfer<i>.png, inputImage<i>.png

Each tile is one hidden node's 784 incoming weights shown as a 28x28 image. No display needed.
"""

from transfer_learning import cli, command


def main(argv=None) -> int:
    """The script's entry point, also the console script ``mlp-transfer-pictures``; returns the exit status."""
    prog = command.script_name("mlp-transfer-pictures", "mlp_transfer_pictures.py")
    return cli.main_transfer(argv, doc=__doc__, pictures=True, prog=prog)


program = command.as_program(main)

if __name__ == "__main__":
    raise SystemExit(program())
