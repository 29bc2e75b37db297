import pytest
import torch

from pconv.core.weights import hub_checkpoint_path, load_torch_file


def test_load_torch_file_reads_tensors_safely(tmp_path):
    torch.save({"w": torch.ones(2)}, tmp_path / "w.pt")
    assert torch.equal(load_torch_file(tmp_path / "w.pt", what="weights file")["w"], torch.ones(2))


def test_load_torch_file_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"none\.pt: no such checkpoint$"):
        load_torch_file(tmp_path / "none.pt", what="checkpoint")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"junk\.pt: not a readable checkpoint \("):
        load_torch_file(tmp_path / "junk.pt", what="checkpoint")


def test_load_torch_file_refuses_pickled_code(tmp_path):
    torch.save({"f": print}, tmp_path / "code.pt")  # a function: only the unsafe unpickler would load it
    with pytest.raises(ValueError, match="not a readable"):
        load_torch_file(tmp_path / "code.pt", what="checkpoint")


def test_hub_checkpoint_path_is_in_the_torch_hub_cache(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert hub_checkpoint_path("https://x.org/models/vgg16-397923af.pth?dl=1") == (
        tmp_path / "checkpoints" / "vgg16-397923af.pth"
    )
