import json
import os

import pytest

from pconv.core import locks
from pconv.core.locks import LOCK_NAME
from pconv.core.output_folder import OutputFolder

SAME = "same request"


def _folder(path, **options):
    return OutputFolder(path, identity_name="run.json", files=("list.txt", "items"), **options)


def _differs(asked):
    return lambda held: None if held == asked else f"holds another run ({held['n']})"


def _state(folder, asked):
    return folder.state(differs=_differs(asked), foreign="foreign files")


def test_an_absent_or_unrelated_folder_is_fresh(tmp_path):
    assert _state(_folder(tmp_path / "new"), {"n": 1}) == "fresh"
    (tmp_path / "notes.txt").write_text("mine")
    assert _state(_folder(tmp_path), {"n": 1}) == "fresh"


def test_the_same_identity_resumes_and_is_complete_once_the_last_file_exists(tmp_path):
    folder = _folder(tmp_path, complete_name="list.txt")
    folder.write_identity({"n": 1})
    assert (tmp_path / "run.json").read_text() == json.dumps({"n": 1}, indent=1) + "\n"
    assert _state(folder, {"n": 1}) == "resume"
    (tmp_path / "list.txt").write_text("done")
    assert _state(folder, {"n": 1}) == "complete"
    assert _state(_folder(tmp_path), {"n": 1}) == "resume"  # without complete_name: never complete


def test_another_identity_or_files_without_one_are_refused_with_the_writers_message(tmp_path):
    folder = _folder(tmp_path)
    folder.write_identity({"n": 1})
    with pytest.raises(ValueError, match=r"^holds another run \(1\)$"):
        _state(folder, {"n": 2})
    (tmp_path / "run.json").unlink()
    (tmp_path / "items").mkdir()
    with pytest.raises(ValueError, match="^foreign files$"):
        _state(folder, {"n": 2})


def test_a_damaged_identity_file_is_one_line(tmp_path):
    (tmp_path / "run.json").write_text("[1]")
    with pytest.raises(ValueError, match="expected a JSON object, found list"):
        _state(_folder(tmp_path), {"n": 1})
    (tmp_path / "run.json").write_text("{}")
    with pytest.raises(ValueError, match="'n' should be int, found nothing"):
        _state(_folder(tmp_path, required={"n": int}), {"n": 1})


def test_overwrite_replaces_anything_held_without_asking(tmp_path):
    folder = _folder(tmp_path, overwrite=True)
    assert _state(folder, {"n": 1}) == "fresh"
    (tmp_path / "list.txt").write_text("no identity")
    assert _state(folder, {"n": 1}) == "replace"


def test_clear_removes_only_the_writers_names(tmp_path):
    folder = _folder(tmp_path)
    folder.write_identity({"n": 1})
    (tmp_path / "items").mkdir()
    (tmp_path / "items" / "a.png").write_bytes(b"a")
    (tmp_path / "notes.txt").write_text("mine")
    folder.clear()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]


def test_a_replacement_is_whole_or_not_at_all(tmp_path):
    folder = _folder(tmp_path, overwrite=True)
    (tmp_path / "list.txt").write_text("old")
    with pytest.raises(RuntimeError), folder.replacing():
        assert not (tmp_path / "list.txt").exists()
        (tmp_path / "list.txt").write_text("half")
        raise RuntimeError("stopped")
    assert (tmp_path / "list.txt").read_text() == "old"
    with folder.replacing():
        (tmp_path / "list.txt").write_text("new")
    assert (tmp_path / "list.txt").read_text() == "new"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["list.txt"]  # nothing aside is left


def test_the_lock_is_taken_once_and_leftover_temporaries_go(tmp_path, monkeypatch):
    taken = []
    real = locks._acquire
    monkeypatch.setattr(locks, "_acquire", lambda path: taken.append(path) or real(path))
    (tmp_path / "items").mkdir()
    live = tmp_path / "items" / f".a.png.pconv-tmp-{os.getpid()}"  # our own pid: still a leftover
    live.write_bytes(b"half")
    (tmp_path / "items" / ".notes.tmp-1").write_text("a user's")
    with _folder(tmp_path).locked() as folder:
        assert (tmp_path / LOCK_NAME).is_file() and folder.path == tmp_path
        assert not live.exists() and (tmp_path / "items" / ".notes.tmp-1").exists()
    assert taken == [tmp_path / LOCK_NAME] and not (tmp_path / LOCK_NAME).exists()


def test_a_folder_the_lock_created_goes_when_left_empty(tmp_path):
    with _folder(tmp_path / "new").locked():
        pass
    assert not (tmp_path / "new").exists()


def test_a_folder_shared_by_design_keeps_the_other_writers_temporaries(tmp_path):
    (tmp_path / "items").mkdir()
    writing = tmp_path / "items" / f".a.png.pconv-tmp-{os.getpid()}"  # another shard's, being written
    writing.write_bytes(b"half")
    with _folder(tmp_path, lock_name=".pconv-shard-1-of-2.lock").locked():
        assert writing.exists()
