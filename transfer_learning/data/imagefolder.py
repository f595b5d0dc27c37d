"""Your own images as a task: ``imagefolder:DIR``, any format Pillow reads.

Two layouts: one sub-folder per class (the class is the folder's name), or, with
``labels_from_filename``, the 2015 author's flat folder of NIST ``HSF_*`` bitmaps whose label is the
eighth ``_``-separated field of the file name (``HSF_0_F0000_14_C0000_14_13_o_74.bmp`` is an "o"),
case-folded, as his getHSF.py read them. Classes are the names in sorted order (label 0 is the first).

Every image becomes a 28x28 grayscale picture. ``resize="fit"`` (default) scales its longer side to
28 pixels, keeping the aspect ratio, and centres it on a canvas of the image's own background (the
median of its border pixels, so a light-on-dark image gets black bars and a dark-on-light one white
bars). ``resize="stretch"`` resizes to 28x28 ignoring the aspect ratio, as the 2015 resizeHSF1.py did.
``invert`` turns dark-on-light scans into MNIST's light-on-dark first.

Each class is split 80/10/10 into train/valid/test by ``split_seed``, a seed of its own (not the
training seed), so runs with different training seeds share one split and one never tests a source
network on images it was trained on.
"""

import hashlib
import io
from pathlib import Path

import numpy as np

from ..vocab import DataError
from .core import SPLIT_NAMES, Split

SIDE = 28
#: Share of each class held out for validation and for test (the rest trains).
VALID_FRACTION = 0.1
TEST_FRACTION = 0.1
RESIZE_MODES = ("fit", "stretch")
#: Where getHSF.py found the label in an HSF file name: the eighth "_"-separated field.
HSF_LABEL_FIELD = 7


def _visible(name: str) -> bool:
    return not name.startswith(".")


def class_folders(root: Path) -> list[Path]:
    """The class sub-folders of ``root``, sorted by name; errors name what is wrong with the layout."""
    if not root.is_dir():
        raise DataError(f"imagefolder {root}: no such folder (expected one sub-folder of images per class)")
    folders = sorted((p for p in root.iterdir() if p.is_dir() and _visible(p.name)), key=lambda p: p.name)
    if not folders:
        loose = [p for p in root.iterdir() if p.is_file() and _visible(p.name)]
        hint = (f" ({len(loose)} files lie at the top level; move each class into a sub-folder, or pass "
                "--labels-from-filename for HSF_* files labelled by name)") if loose else ""
        raise DataError(f"imagefolder {root}: no class sub-folders, so no images{hint}")
    return folders


#: The files a class folder's images are taken from, by extension (case aside), as torchvision's ImageFolder takes
#: them: a README.txt or a notes file beside the images is not an image of the class.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif")


def image_files(folder: Path) -> list[Path]:
    """Every visible image file under ``folder`` (nested folders included, by IMAGE_EXTENSIONS), sorted; hidden
    files and other files are skipped."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                  and all(_visible(part) for part in p.relative_to(folder).parts))


def label_from_filename(path: Path) -> str:
    """getHSF.py's label: the eighth "_"-separated field of the file name, case-folded ("P" and "p" are one)."""
    fields = path.name.split("_", HSF_LABEL_FIELD + 1)
    if len(fields) <= HSF_LABEL_FIELD or not fields[HSF_LABEL_FIELD]:
        raise DataError(f"{path}: no label in the file name (expected HSF_*_*_*_*_*_*_<label>_*, the label "
                        f"being the eighth '_'-separated field)")
    return fields[HSF_LABEL_FIELD].split(".")[0].casefold()


def labelled_files(root: Path, labels_from_filename: bool) -> dict[str, list[Path]]:
    """Class name -> its files, sorted by name, in either layout."""
    if not labels_from_filename:
        return {folder.name: image_files(folder) for folder in class_folders(root)}
    if not root.is_dir():
        raise DataError(f"imagefolder {root}: no such folder (expected a folder of HSF_* images)")
    files = sorted(p for p in root.iterdir() if p.is_file() and _visible(p.name))
    if not files:
        raise DataError(f"imagefolder {root}: no image files at the top level (--labels-from-filename reads a "
                        f"flat folder)")
    classes = {}
    for path in files:
        classes.setdefault(label_from_filename(path), []).append(path)
    return dict(sorted(classes.items()))


#: Pillow modes of more than 8 bits per pixel, and the top of their range.
_WIDE_MODES = {"I;16": 65535.0, "I;16B": 65535.0, "I;16L": 65535.0, "I;16N": 65535.0}


def _gray_array(image) -> np.ndarray:
    """A Pillow image as uint8 grayscale, scaled by its format's range (a dim 16-bit image stays dim).

    16-bit modes are divided by 65535. Mode "I" (32-bit integers, which is how some Pillow versions
    open 16-bit PNGs) is taken as 16-bit when its values fit, else as 32-bit; mode "F" (floats) as
    [0, 1] when its values fit, else as [0, 255].
    """
    if image.mode in _WIDE_MODES or image.mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = _WIDE_MODES.get(image.mode)
        if image.mode == "I":
            top = 65535.0 if values.max(initial=0) <= 65535 else 2.0 ** 31 - 1
        elif image.mode == "F":
            top = 1.0 if values.max(initial=0) <= 1 else 255.0
        return np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.asarray(image.convert("L"), dtype=np.uint8)


def background(gray: np.ndarray) -> int:
    """The median of an image's border pixels: what a scan's page (or a digit's dark field) looks like."""
    border = np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])
    return int(np.median(border))


#: Below this many test images a test error moves in steps too coarse to compare arms by.
COARSE_TEST_SPLIT = 100


def warnings(splits, invert: bool) -> list[str]:
    """What a user should hear before training on these images: dark strokes on a light page while the network
    reads light on dark (as MNIST is) and --invert was not given; a test split so small that one image is a large
    step of test error."""
    found = []
    images = np.concatenate([split.x for split in splits]).reshape(-1, SIDE, SIDE)
    border = np.concatenate([images[:, 0], images[:, -1], images[:, 1:-1, 0], images[:, 1:-1, -1]], axis=1)
    light = float(np.mean(np.median(border, axis=1) > 0.5))  # background()'s median of the border, on [0, 1) pixels
    if not invert and light > 0.5:
        found.append(f"{light:.0%} of the images are dark on a light background, and MNIST-like networks read light "
                     "strokes on a dark one; pass --invert if these are scans of dark ink")
    n_test = len(splits[2].y)
    if n_test < COARSE_TEST_SPLIT:
        found.append(f"the test split holds {n_test} images, so one image is {100 / n_test:.1f} pp of test error; "
                     "differences between arms smaller than a few images are noise (more images per class help)")
    return found


def decode(data: bytes, path: Path) -> np.ndarray:
    """An image file's bytes as uint8 grayscale; any Pillow failure is one named error."""
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("L", (SIDE, SIDE))  # JPEG: decode at a reduced size, much faster for photos
            image = ImageOps.exif_transpose(image)
            gray = _gray_array(image)
    except Exception as err:  # Pillow raises many types for a bad file; to the user they are one problem
        raise DataError(f"{path}: not an image Pillow can read ({type(err).__name__}: {err}); "
                        f"remove it or replace it with an image") from err
    if gray.ndim != 2 or gray.size == 0:
        raise DataError(f"{path}: expected a 2-D image, got pixel array of shape {gray.shape}")
    return gray


def to_square(gray: np.ndarray, invert: bool = False, resize: str = "fit") -> np.ndarray:
    """uint8 grayscale -> 28x28 float32 in [0, 1): optionally inverted, then fitted or stretched."""
    from PIL import Image

    if invert:
        gray = 255 - gray
    if resize == "stretch":
        size = (SIDE, SIDE)
    else:
        rows, cols = gray.shape
        scale = SIDE / max(rows, cols)
        size = (max(1, round(cols * scale)), max(1, round(rows * scale)))
    resized = np.asarray(Image.fromarray(gray).resize(size, Image.Resampling.LANCZOS), dtype=np.uint8)
    canvas = np.full((SIDE, SIDE), background(gray), dtype=np.uint8)
    top, left = (SIDE - size[1]) // 2, (SIDE - size[0]) // 2
    canvas[top:top + size[1], left:left + size[0]] = resized
    return canvas.astype(np.float32) / 256.0


def read_image(path: Path, invert: bool = False, resize: str = "fit") -> np.ndarray:
    """One image file as 28x28 float32 in [0, 1) (see to_square)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err.strerror})") from err
    return to_square(decode(data, path), invert, resize)


def split_counts(n: int) -> tuple[int, int, int]:
    """(train, valid, test) sizes of a class of ``n`` images: at least one each, the rest to train."""
    n_valid = max(1, round(n * VALID_FRACTION))
    n_test = max(1, round(n * TEST_FRACTION))
    return n - n_valid - n_test, n_valid, n_test


def load_image_folder(root, invert: bool = False, split_seed: int = 0, log=None, resize: str = "fit",
                      labels_from_filename: bool = False):
    """(train, valid, test) Splits, the class names, and a fingerprint of the files read.

    Within each class the files are shuffled by ``split_seed`` and cut by VALID/TEST_FRACTION; each
    split is then shuffled as a whole, so SGD minibatches mix the classes. The fingerprint is the
    sha256 of the sorted list of (relative path, size, sha256 of the bytes) of every file read.
    """
    root = Path(root)
    if resize not in RESIZE_MODES:
        raise DataError(f"--resize: expected one of {', '.join(RESIZE_MODES)}, got {resize!r}")
    classes = labelled_files(root, labels_from_filename)
    rng = np.random.default_rng(split_seed)
    parts = {"train": [], "valid": [], "test": []}
    for label, (name, files) in enumerate(classes.items()):
        if not files:
            raise DataError(f"imagefolder {root}: class folder {name!r} holds no images")
        n_train, n_valid, _ = split_counts(len(files))
        if n_train < 1:
            raise DataError(f"imagefolder {root}: class {name!r} has {len(files)} images; need at least 3 "
                            f"(one each for train, valid and test)")
        order = rng.permutation(len(files))
        cuts = {"train": order[:n_train], "valid": order[n_train:n_train + n_valid], "test": order[n_train + n_valid:]}
        for part, index in cuts.items():
            parts[part].extend((files[i], label) for i in index)
    if log:
        log(f"imagefolder {root}: {sum(len(p) for p in parts.values())} images in {len(classes)} classes "
            f"({', '.join(f'{i}={name}' for i, name in enumerate(classes))})")
    listing = []
    splits = []
    for part in SPLIT_NAMES:
        items = [parts[part][i] for i in rng.permutation(len(parts[part]))]
        pixels = []
        for path, _ in items:
            try:
                data = path.read_bytes()
            except OSError as err:
                raise DataError(f"{path}: cannot be read ({err.strerror})") from err
            listing.append((str(path.relative_to(root)), len(data), hashlib.sha256(data).hexdigest()))
            pixels.append(to_square(decode(data, path), invert, resize).reshape(-1))
        splits.append(Split(np.stack(pixels), np.array([label for _, label in items], dtype=np.int32)))
    if log:
        for warning in warnings(splits, invert):
            log(f"imagefolder {root}: {warning}")
    listing.sort()
    digest = hashlib.sha256("\n".join(f"{p}\t{n}\t{h}" for p, n, h in listing).encode()).hexdigest()
    fingerprint = {"folder": str(root.resolve()), "files": len(listing), "sha256": digest}
    return tuple(splits), tuple(classes), fingerprint
