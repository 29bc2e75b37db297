import datetime
import fractions

import numpy as np
import pytest
import torch

from pconv.pconv_model.pretrained import load_weights_only


def test_plain_tensors_load_without_a_note(tmp_path):
    torch.save({"model": {"w": torch.ones(2)}, "n_iter": 3}, tmp_path / "a.pth")
    document, note = load_weights_only(tmp_path / "a.pth")
    assert note is None and document["n_iter"] == 3


def test_numpy_and_datetime_metadata_load_with_a_one_line_note(tmp_path):
    meta = {
        "iter": np.int64(7),
        "lr": np.float32(0.5),
        "seen": np.arange(3),
        "time": datetime.datetime(2020, 6, 19),
    }
    torch.save({"meta": meta, "state_dict": {"w": torch.ones(2)}}, tmp_path / "mm.pth")
    document, note = load_weights_only(tmp_path / "mm.pth")
    assert document["meta"]["iter"] == 7 and document["meta"]["seen"].tolist() == [0, 1, 2]
    assert note == "mm.pth: its metadata holds numpy or datetime values; read allowing only those"


@pytest.mark.parametrize(
    ("value", "name"),
    [(fractions.Fraction(1, 2), "fractions.Fraction"), (np.array([None], dtype=object), "ObjectDType")],
)
def test_any_other_type_is_refused_by_name(tmp_path, value, name):
    torch.save({"meta": {"x": value}, "state_dict": {}}, tmp_path / "evil.pth")
    with pytest.raises(ValueError, match=rf"needs [\w.]*{name} to unpickle, .* refusing to load it"):
        load_weights_only(tmp_path / "evil.pth")


def test_missing_and_non_checkpoint_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such checkpoint file"):
        load_weights_only(tmp_path / "nothing.pth")
    (tmp_path / "notes.txt").write_text("not a checkpoint\n")
    with pytest.raises(ValueError, match="notes.txt: not a readable torch checkpoint"):
        load_weights_only(tmp_path / "notes.txt")
