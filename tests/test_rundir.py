"""The run directory's names and folders (rundir.py): safe file names, --out folders made or refused in one line,
and the file digests the two-stage study records."""

import hashlib

import pytest

from transfer_learning.rundir import file_digest, file_label, make_folder
from transfer_learning.vocab import ConfigError


def test_an_arm_name_becomes_a_file_name_without_colons():
    assert file_label("keep-layers:1") == "keep-layers-1" and file_label("scratch") == "scratch"


def test_out_is_made_with_its_parents_and_a_file_in_the_way_is_one_line(tmp_path):
    make_folder(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    make_folder(tmp_path / "a" / "b")  # again: nothing to do
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match=r"is a file, not a folder; choose a folder$"):
        make_folder(tmp_path / "f")
    with pytest.raises(ConfigError, match=r"--out: cannot create .*; choose a folder you can write to$"):
        make_folder(tmp_path / "f" / "run")


def test_a_files_digest_is_its_sha256(tmp_path):
    path = tmp_path / "tuned.json"
    path.write_bytes(b'{"a": 1}')
    assert file_digest(path) == hashlib.sha256(b'{"a": 1}').hexdigest()
