import random

import numpy as np
import pytest
import torch

from pconv.pconv_model.checkpoint import (
    build_model,
    capture_rng,
    load_checkpoint,
    model_from_checkpoint,
    restore_rng,
    save_checkpoint,
)


def tiny_config(arch="pconv"):
    return {"arch": arch, "phase": "initial", "layers": 4, "width": 0.125, "seed": 0}


def write(path, arch="pconv"):
    model = build_model(arch, layers=4, width=0.125)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    save_checkpoint(path, model=model, optimizer=optimizer, scaler_state={}, step=7, config=tiny_config(arch))
    return model


def test_round_trip_with_the_safe_unpickler(tmp_path):
    model = write(tmp_path / "ck.pt")
    document = load_checkpoint(tmp_path / "ck.pt", arch="pconv")
    assert document["step"] == 7 and document["phase"] == "initial"
    loaded = model_from_checkpoint(document, tmp_path / "ck.pt")
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name])
    assert not list(tmp_path.glob(".*tmp*"))  # the atomic write left nothing behind


def test_other_architecture_is_refused_by_name(tmp_path):
    write(tmp_path / "conv.pt", arch="conv")
    with pytest.raises(ValueError, match="conv.pt: a conv checkpoint, but the architecture asked for is pc"):
        load_checkpoint(tmp_path / "conv.pt", arch="pconv")


def test_weights_that_do_not_fit_name_the_file(tmp_path):
    write(tmp_path / "ck.pt")
    document = load_checkpoint(tmp_path / "ck.pt")
    width = document["config"]["width"]
    document["config"]["width"] = 0.25  # checked against the weights' shapes before the model is built
    with pytest.raises(ValueError, match="ck.pt: config says layers=4, width=0.25, but the weights' "):
        model_from_checkpoint(document, tmp_path / "ck.pt")
    document["config"]["width"] = width
    del document["model"]["encoder.1.bn.running_mean"]
    with pytest.raises(ValueError, match="ck.pt: weights do not fit the model"):
        model_from_checkpoint(document, tmp_path / "ck.pt")


def test_foreign_and_missing_files(tmp_path):
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a pconv checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "absent.pt")


def test_pickled_code_is_refused(tmp_path):
    torch.save({"format": 1, "payload": np.random.default_rng(0)}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")


def test_rng_states_survive_a_weights_only_round_trip(tmp_path):
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    torch.save(capture_rng(), tmp_path / "rng.pt")
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(9), np.random.seed(9), random.seed(9)
    restore_rng(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1]) and random.random() == expected[2]
