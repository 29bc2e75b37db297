import pytest
import torch
import torch.nn.functional as F

from pconv.pconv_model.inpaint import Inpainter
from pconv.pconv_model.pretrained import import_checkpoint

from .conftest import (
    mmagic_state_dict,
    naoto0804_state_dict,
    reference_inpaint,
    write_mmagic,
    write_naoto0804,
)

WRITERS = {"mmagic": write_mmagic, "naoto0804": write_naoto0804}
STATES = {"mmagic": mmagic_state_dict, "naoto0804": naoto0804_state_dict}


def _photo_and_mask(size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth random photo and a 1 = valid mask whose holes touch the top, left, right and bottom."""
    gen = torch.Generator().manual_seed(3)
    image = F.interpolate(torch.rand(1, 3, 8, 8, generator=gen), size=(size, size), mode="bicubic")
    image = (image + 0.05 * torch.rand(1, 3, size, size, generator=gen)).clamp(0, 1)
    valid = torch.ones(1, 1, size, size)
    valid[..., :40, :60] = 0  # top-left corner
    valid[..., 100:180, size - 26 :] = 0  # right edge
    valid[..., size - 16 :, 80:140] = 0  # bottom edge
    valid[..., 120:150, 60:200] = 0  # inside
    return image, valid


@pytest.mark.parametrize("fmt", ["mmagic", "naoto0804"])
def test_imported_model_reproduces_the_release(fmt, tmp_path):
    src = WRITERS[fmt](tmp_path / f"{fmt}.pth", layers=7, seed=1)
    result = import_checkpoint(src, tmp_path / "ours.pt", fmt=fmt)
    assert result.layers == 7
    inpainter = Inpainter.from_checkpoint(result.out)
    image, valid = _photo_and_mask()
    expected = reference_inpaint(fmt, STATES[fmt](7, seed=1), image, valid, layers=7)
    with torch.no_grad():
        norm = inpainter.normalization
        raw = norm.from_network(inpainter.model(norm.to_network(image), valid))
    raw_error = (raw.double() - expected).abs().max().item()
    print(
        f"{fmt}: max |ours - reference| raw output {raw_error:.2e}, range {expected.abs().max().item():.2f}"
    )
    assert raw_error < 1e-4
    composite = inpainter(image, valid)
    expected_composite = torch.where(valid > 0, image.double(), expected.clamp(0, 1))
    assert (composite.double() - expected_composite).abs().max().item() < 1e-4
    assert torch.equal(composite[valid.expand_as(image) > 0], image[valid.expand_as(image) > 0])


def test_a_wrong_normalization_would_be_caught(tmp_path):
    """The equivalence test can fail: the mmagic weights read as RGB instead of BGR differ by far more."""
    src = write_mmagic(tmp_path / "mm.pth", layers=4, seed=2)
    inpainter = Inpainter.from_checkpoint(import_checkpoint(src, tmp_path / "ours.pt", fmt="mmagic").out)
    image, valid = _photo_and_mask(64)
    expected = reference_inpaint("mmagic", mmagic_state_dict(4, seed=2), image.flip(1), valid, layers=4)
    with torch.no_grad():
        raw = inpainter.normalization.from_network(
            inpainter.model(inpainter.normalization.to_network(image), valid)
        )
    assert (raw.double() - expected.flip(1)).abs().max().item() > 1e-2


@pytest.mark.parametrize(
    ("fmt", "edit", "message"),
    [
        ("mmagic", lambda s: s.pop("generator.decoder.dec1.conv.bias"), r"1 generator key\(s\) missing .*"),
        ("mmagic", lambda s: s.__setitem__("generator.encoder.enc2.extra", torch.ones(1)), "unexpected"),
        (
            "mmagic",
            lambda s: s.__setitem__("generator.encoder.enc2.conv.weight", torch.ones(128, 64, 3, 3)),
            r"enc2.conv.weight has shape \(128, 64, 3, 3\), a 4-layer PConv U-Net needs \(128, 64, 5, 5\)",
        ),
        (
            "mmagic",
            lambda s: s.__setitem__(
                "generator.encoder.enc1.conv.weight_mask_updater", torch.ones(1, 1, 7, 7)
            ),
            "only multi-channel partial convolutions",
        ),
        ("naoto0804", lambda s: s.pop("enc_3.bn.running_var"), "first enc_3.bn.running_var"),
        (
            "naoto0804",
            lambda s: s.__setitem__("enc_1.conv.input_conv.bias", torch.ones(64)),
            "enc_1.conv.input",
        ),
    ],
)
def test_bad_weights_are_named(fmt, edit, message, tmp_path):
    state = STATES[fmt](4, seed=0)
    edit(state)
    container = "state_dict" if fmt == "mmagic" else "model"
    torch.save({container: state}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match=message):
        import_checkpoint(tmp_path / "bad.pth", tmp_path / "out.pt", fmt=fmt)
    assert not (tmp_path / "out.pt").exists()


def test_missing_num_batches_tracked_is_accepted(tmp_path):
    """PyTorch < 0.4.1 wrote no num_batches_tracked; eval-mode BN never reads it."""
    state = naoto0804_state_dict(4, seed=0)
    for key in [k for k in state if k.endswith("num_batches_tracked")]:
        del state[key]
    torch.save({"model": state}, tmp_path / "old.pth")
    assert (
        import_checkpoint(tmp_path / "old.pth", tmp_path / "out.pt", fmt="naoto0804").training_steps is None
    )


def test_the_other_format_and_non_checkpoints_are_named(tmp_path):
    mm = write_mmagic(tmp_path / "mm.pth", layers=4)
    naoto = write_naoto0804(tmp_path / "naoto.pth", layers=4)
    with pytest.raises(ValueError, match="looks like a mmagic checkpoint .*; use --format mmagic"):
        import_checkpoint(mm, tmp_path / "out.pt", fmt="naoto0804")
    with pytest.raises(ValueError, match="looks like a naoto0804 checkpoint .*; use --format naoto0804"):
        import_checkpoint(naoto, tmp_path / "out.pt", fmt="mmagic")
    ours = import_checkpoint(naoto, tmp_path / "ours.pt", fmt="naoto0804").out
    with pytest.raises(ValueError, match="already a pconv checkpoint"):
        import_checkpoint(ours, tmp_path / "out.pt", fmt="mmagic")
    torch.save({"weights": torch.ones(3)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match=r"not a mmagic PConv checkpoint \(no 'state_dict' entry"):
        import_checkpoint(tmp_path / "other.pth", tmp_path / "out.pt", fmt="mmagic")
    with pytest.raises(ValueError, match="unknown checkpoint format 'nvidia'"):
        import_checkpoint(naoto, tmp_path / "out.pt", fmt="nvidia")
