"""Your own images as a task: ``imagefolder:DIR``, one sub-folder per class, any format Pillow reads.

Every image becomes a 28x28 grayscale picture the way the 2015 author prepared his NIST
letters: resized so that its longer side is 28 pixels, keeping the aspect ratio, and centred on a
black canvas. ``invert`` turns dark-on-light scans into MNIST's light-on-dark before padding.
Classes are the sub-folders in sorted order (label 0 is the first name). Each class is split
into train/valid/test by the run's seed, so a run is repeatable and every split holds every class.
"""

from pathlib import Path

import numpy as np

from .data import DataError, Split

SIDE = 28
#: Share of each class held out for validation and for test (the rest trains).
VALID_FRACTION = 0.1
TEST_FRACTION = 0.1


def _visible(name: str) -> bool:
    return not name.startswith(".")


def class_folders(root: Path) -> list[Path]:
    """The class sub-folders of ``root``, sorted by name; errors name what is wrong with the layout."""
    if not root.is_dir():
        raise DataError(f"imagefolder {root}: no such folder (expected one sub-folder of images per class)")
    folders = sorted((p for p in root.iterdir() if p.is_dir() and _visible(p.name)), key=lambda p: p.name)
    if not folders:
        loose = [p for p in root.iterdir() if p.is_file() and _visible(p.name)]
        hint = f" ({len(loose)} files lie at the top level; move each class into a sub-folder)" if loose else ""
        raise DataError(f"imagefolder {root}: no class sub-folders, so no images{hint}")
    return folders


def image_files(folder: Path) -> list[Path]:
    """Every visible file under ``folder`` (nested folders included), sorted; hidden files are skipped."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and all(_visible(part) for part in p.relative_to(folder).parts))


def _gray_array(image) -> np.ndarray:
    """A Pillow image as uint8 grayscale; 16-bit and float images are scaled, not clipped."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 1.0 if image.mode == "F" and values.max(initial=0) <= 1 else (65535.0 if values.max(initial=0) > 255 else 255.0)
        return np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.asarray(image.convert("L"), dtype=np.uint8)


def read_image(path: Path, invert: bool = False) -> np.ndarray:
    """One image file as 28x28 float32 in [0, 1): grayscale, aspect kept, centred, optionally inverted."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as image:
            image.draft("L", (SIDE, SIDE))  # JPEG: decode at a reduced size, much faster for photos
            image = ImageOps.exif_transpose(image)
            gray = _gray_array(image)
    except Exception as err:  # Pillow raises many types for a bad file; to the user they are one problem
        raise DataError(f"{path}: not an image Pillow can read ({type(err).__name__}: {err}); "
                        f"remove it or replace it with an image")
    if gray.ndim != 2 or gray.size == 0:
        raise DataError(f"{path}: expected a 2-D image, got pixel array of shape {gray.shape}")
    if invert:
        gray = 255 - gray
    rows, cols = gray.shape
    scale = SIDE / max(rows, cols)
    size = (max(1, round(cols * scale)), max(1, round(rows * scale)))
    resized = np.asarray(Image.fromarray(gray).resize(size, Image.Resampling.LANCZOS), dtype=np.uint8)
    canvas = np.zeros((SIDE, SIDE), dtype=np.uint8)
    top, left = (SIDE - size[1]) // 2, (SIDE - size[0]) // 2
    canvas[top:top + size[1], left:left + size[0]] = resized
    return canvas.astype(np.float32) / 256.0


def split_counts(n: int) -> tuple[int, int, int]:
    """(train, valid, test) sizes of a class of ``n`` images: at least one each, the rest to train."""
    n_valid = max(1, round(n * VALID_FRACTION))
    n_test = max(1, round(n * TEST_FRACTION))
    return n - n_valid - n_test, n_valid, n_test


def load_image_folder(root, invert: bool = False, seed: int = 0, log=None):
    """(train, valid, test) Splits and the class names of an image folder, split by ``seed``.

    Within each class the files are shuffled by the seed and cut by VALID/TEST_FRACTION; each split
    is then shuffled as a whole, so SGD minibatches mix the classes.
    """
    root = Path(root)
    folders = class_folders(root)
    rng = np.random.default_rng(seed)
    parts = {"train": [], "valid": [], "test": []}
    for label, folder in enumerate(folders):
        files = image_files(folder)
        if not files:
            raise DataError(f"imagefolder {root}: class folder {folder.name!r} holds no images")
        n_train, n_valid, _ = split_counts(len(files))
        if n_train < 1:
            raise DataError(f"imagefolder {root}: class {folder.name!r} has {len(files)} images; need at least 3 "
                            f"(one each for train, valid and test)")
        order = rng.permutation(len(files))
        cuts = {"train": order[:n_train], "valid": order[n_train:n_train + n_valid], "test": order[n_train + n_valid:]}
        for name, index in cuts.items():
            parts[name].extend((files[i], label) for i in index)
    if log:
        log(f"imagefolder {root}: {sum(len(p) for p in parts.values())} images in {len(folders)} classes "
            f"({', '.join(f'{i}={f.name}' for i, f in enumerate(folders))})")
    splits = []
    for name in ("train", "valid", "test"):
        items = [parts[name][i] for i in rng.permutation(len(parts[name]))]
        x = np.stack([read_image(path, invert).reshape(-1) for path, _ in items])
        y = np.array([label for _, label in items], dtype=np.int32)
        splits.append(Split(x, y))
    return tuple(splits), tuple(f.name for f in folders)
