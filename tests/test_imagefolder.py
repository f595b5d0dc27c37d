"""imagefolder:DIR datasets: Pillow decoding, aspect-keeping resize, seeded split, and errors that name the culprit."""

import json

import numpy as np
import pytest

from tests.helpers import TINY_KEEPING_SOME as TINY
from tests.helpers import make_folder, save
from transfer_learning import cli
from transfer_learning.data import DataError, load_task, parse_spec
from transfer_learning.data.imagefolder import load_image_folder, read_image, split_counts


def framed(rows, cols, border=0, inside=255):
    """A light-on-dark image: a 2-pixel frame of ``border`` around ``inside``."""
    pixels = np.full((rows, cols), inside, np.uint8)
    pixels[:2], pixels[-2:], pixels[:, :2], pixels[:, -2:] = border, border, border, border
    return pixels


def test_resize_keeps_the_aspect_ratio_and_centres(tmp_path):
    wide = save(tmp_path / "wide.png", np.full((30, 60), 255, np.uint8))  # 2:1 -> 28 x 14, rows 7..20
    image = read_image(wide)
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert image.min() == pytest.approx(255 / 256)  # a white image is padded with its own (white) border
    dark = read_image(save(tmp_path / "dark.png", framed(30, 60)))  # light-on-dark: black bars, as MNIST
    rows = np.flatnonzero(dark.max(axis=1) > 0)
    assert rows.tolist() == list(range(7, 21))
    assert dark[:7].max() == 0 and dark[21:].max() == 0 and dark[10:18, 5:23].min() >= 250 / 256
    tall = read_image(save(tmp_path / "tall.png", framed(90, 30)))  # 3:1 -> 9.33 wide
    cols = np.flatnonzero(tall.max(axis=0) > 0)
    assert cols.tolist() == list(range(9, 18))


def test_invert_turns_dark_on_light_into_light_on_dark(tmp_path):
    scan = np.full((28, 28), 255, np.uint8)
    scan[10:18, 12:16] = 0  # a dark stroke on white paper
    path = save(tmp_path / "scan.png", scan)
    plain, inverted = read_image(path), read_image(path, invert=True)
    assert plain[0, 0] == pytest.approx(255 / 256) and inverted[0, 0] == 0
    assert inverted[12, 13] == pytest.approx(255 / 256)
    np.testing.assert_allclose(plain + inverted, 255 / 256)


def test_colour_and_16_bit_images_become_grayscale_without_clipping(tmp_path):
    rgb = np.zeros((28, 28, 3), np.uint8)
    rgb[..., 1] = 255
    green = read_image(save(tmp_path / "green.png", rgb))
    assert green[0, 0] == pytest.approx(np.round(255 * 0.587) / 256, abs=1 / 256)
    deep = np.full((28, 28), 32768, np.uint16)
    half = read_image(save(tmp_path / "deep.png", deep))
    assert half[0, 0] == pytest.approx(128 / 256, abs=1 / 256)


def test_split_is_seeded_per_class_and_mixes_classes(tmp_path):
    root = make_folder(tmp_path / "letters")
    (root / "A" / ".DS_Store").write_bytes(b"not an image, hidden, skipped")
    (splits, names, _) = load_image_folder(root, split_seed=3)
    assert names == ("A", "B", "C")
    n_train, n_valid, n_test = split_counts(10)
    assert (n_train, n_valid, n_test) == (8, 1, 1)
    for split, n in zip(splits, (n_train, n_valid, n_test), strict=True):
        assert np.bincount(split.y, minlength=3).tolist() == [n] * 3
        assert split.x.shape == (3 * n, 784) and split.x.dtype == np.float32
    assert len(set(splits[0].y[:3].tolist())) > 1 or len(set(splits[0].y[:6].tolist())) > 1  # shuffled
    again, _, _ = load_image_folder(root, split_seed=3)
    other, _, _ = load_image_folder(root, split_seed=4)
    np.testing.assert_array_equal(again[0].x, splits[0].x)
    assert not np.array_equal(np.sort(other[2].x, axis=0), np.sort(splits[2].x, axis=0))
    every = np.concatenate([s.x for s in splits])
    assert len(np.unique(every, axis=0)) == 30  # each image in exactly one split


@pytest.mark.parametrize("spec, path, want", [
    ("imagefolder:/data/letters", None, ("imagefolder", None, "/data/letters")),
    ("imagefolder:/data/letters:0-2", None, ("imagefolder", (0, 1, 2), "/data/letters")),
    ("imagefolder:/data/v1:letters", None, ("imagefolder", None, "/data/v1:letters")),
    ("imagefolder:0,3", "/data/letters", ("imagefolder", (0, 3), "/data/letters")),
    ("imagefolder", "/data/letters", ("imagefolder", None, "/data/letters")),
    ("fashion-mnist:0-4", "/data/fm", ("fashion-mnist", (0, 1, 2, 3, 4), "/data/fm")),
])
def test_specs_name_the_folder_or_take_it_from_the_path_flag(spec, path, want):
    assert parse_spec(spec, path) == want


def test_class_subsets_and_names(tmp_path):
    root = make_folder(tmp_path / "letters")
    task = load_task(f"imagefolder:{root}:1-2", split_seed=0)
    assert task.n_classes == 2 and task.class_names == ("B", "C") and task.n_in == 784
    assert load_task("imagefolder:1-2", path=root, split_seed=0).class_names == ("B", "C")


@pytest.mark.parametrize("build, message", [
    (lambda root: None, "no such folder"),
    (lambda root: save(root / "a.png", np.zeros((5, 5), np.uint8)),
     "no class sub-folders, so no images (1 files lie at the top level"),
    (lambda root: (make_folder(root), (root / "D").mkdir()), "class folder 'D' holds no images"),
    (lambda root: (make_folder(root), save(root / "D" / "x.png", np.zeros((5, 5), np.uint8))),
     "class 'D' has 1 images; need at least 3"),
    (lambda root: (make_folder(root), (root / "B" / "notes.png").write_text("hello")),
     "B/notes.png: not an image Pillow can read"),
    (lambda root: (make_folder(root), (root / "C" / "005.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")),
     "C/005.png: not an image Pillow can read"),
])
def test_bad_folders_are_named(tmp_path, build, message):
    root = tmp_path / "letters"
    build(root)
    with pytest.raises(DataError, match=message.replace("(", r"\(")):
        load_task(f"imagefolder:{root}")


@pytest.mark.e2e
def test_transfer_between_image_folders_from_the_command_line(tmp_path, capsys):
    source = make_folder(tmp_path / "source", classes=("a", "b"), per_class=25)
    target = make_folder(tmp_path / "target", classes=("x", "y", "z"), per_class=25, seed=1)
    out = tmp_path / "run"
    args = [*TINY[4:], "--source", f"imagefolder:{source}", "--target", "imagefolder", "--target-path", str(target),
            "--invert", "--out", str(out)]
    assert cli.main_transfer(args) == 0, capsys.readouterr().err
    assert "3 classes (0=x, 1=y, 2=z)" in capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    assert results["target"] == "imagefolder" and set(results["arms"]) == {"transfer", "scratch"}
    saved = json.loads((out / "config.json").read_text())["config"]
    assert saved["target_path"] == str(target) and saved["invert"] is True


def test_image_folder_errors_from_the_command_line(tmp_path, tiny_pickle, capsys):
    root = make_folder(tmp_path / "letters")
    empty = tmp_path / "empty"
    empty.mkdir()
    base = [*TINY[4:], "--dataset", str(tiny_pickle), "--source", "mnist:0-1", "--out", str(tmp_path / "x")]
    assert cli.main_transfer([*base, "--target", f"imagefolder:{empty}"]) == 2
    assert f"imagefolder {empty}: no class sub-folders" in capsys.readouterr().err
    assert cli.main_transfer([*base, "--target", f"imagefolder:{root}"]) == 2
    assert "has 784 inputs per image but mnist:0-1 has 16" in capsys.readouterr().err
    assert cli.main_transfer([*base, "--target", "fashion-mnist", "--target-path", str(empty)]) == 2
    assert f"fashion-mnist: no IDX files (train-images-idx3-ubyte[.gz] and the other three) in {empty}" \
        in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_folder_given_without_its_prefix_is_told_the_prefix(tmp_path, capsys):
    folder = make_folder(tmp_path / "shapes")
    assert cli.main_transfer(["--target", str(folder), "--out", str(tmp_path / "never")]) == 2
    assert capsys.readouterr().err == (f"mlp_transfer.py: error: dataset '{folder}': expected NAME or NAME:classes, "
                                       f"e.g. mnist or mnist:0-4; for a folder of images, give imagefolder:{folder}\n")
    assert cli.main_transfer(["--target", str(tmp_path / "nothing"), "--out", str(tmp_path / "never")]) == 2
    assert "imagefolder:" not in capsys.readouterr().err  # no folder there: nothing to suggest


def test_files_that_are_not_images_are_skipped_as_torchvision_skips_them(tmp_path):
    """A README.txt in a class folder, notes without an extension and a .DS_Store-like hidden file are left out, by
    extension (case aside), as torchvision's ImageFolder leaves them out: the same images, split and fingerprint."""
    plain = make_folder(tmp_path / "plain")
    cluttered = make_folder(tmp_path / "cluttered")
    (cluttered / "A" / "README.txt").write_text("the letter A, scanned")
    (cluttered / "B" / "notes").write_text("no extension")
    (cluttered / "C" / ".hidden.png").write_bytes(b"not read")
    upper = cluttered / "C" / "000.png"
    upper.rename(upper.with_name("000.PNG"))
    (plain / "C" / "000.png").rename(plain / "C" / "000.PNG")
    a, b = (load_task(f"imagefolder:{root}", split_seed=3) for root in (plain, cluttered))
    for split in ("train", "valid", "test"):
        np.testing.assert_array_equal(getattr(a, split).x, getattr(b, split).x)
        np.testing.assert_array_equal(getattr(a, split).y, getattr(b, split).y)
    assert (a.fingerprint["files"], a.fingerprint["sha256"]) == (b.fingerprint["files"], b.fingerprint["sha256"]) == \
        (30, a.fingerprint["sha256"])


def test_dark_ink_without_invert_and_a_coarse_test_split_are_warned_of(tmp_path):
    scans = tmp_path / "scans"
    for k, name in enumerate(("a", "b")):
        for i in range(12):
            pixels = np.full((40, 40), 240, np.uint8)  # a light page
            pixels[10:30, 5 + 15 * k:15 + 15 * k] = 20 + i  # a dark stroke
            save(scans / name / f"{i:02d}.png", pixels)
    heard = []
    load_image_folder(scans, log=lambda line: heard.append(line.removeprefix(f"imagefolder {scans}: ")))
    assert heard[1:] == [
        "100% of the images are dark on a light background, and MNIST-like networks read light strokes on a dark one; "
        "pass --invert if these are scans of dark ink",
        "the test split holds 2 images, so one image is 50.0 pp of test error; differences between arms smaller than a "
        "few images are noise (more images per class help)"]
    heard.clear()
    load_image_folder(scans, invert=True, log=lambda line: heard.append(line.removeprefix(f"imagefolder {scans}: ")))
    assert len(heard) == 2 and heard[1].startswith("the test split holds 2 images")
    heard.clear()
    load_image_folder(make_folder(tmp_path / "glyphs"), log=heard.append)  # light on dark: nothing about ink
    assert not any("light background" in line for line in heard)
