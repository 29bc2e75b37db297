import numpy as np
import pytest
import torch
from PIL import Image

from pconv.core.masks import write_mask_png
from pconv.pconv_model.checkpoint import build_model, save_checkpoint
from pconv.pconv_model.inpaint import Inpainter, inpaint_files, pad_reflect, pair_by_stem


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ck") / "ck.pt"
    torch.manual_seed(0)
    model = build_model("pconv", layers=4, width=0.125)
    optimizer = torch.optim.Adam(model.parameters())
    save_checkpoint(
        path,
        model=model,
        optimizer=optimizer,
        scaler_state={},
        step=1,
        config={"arch": "pconv", "phase": "initial", "layers": 4, "width": 0.125},
    )
    return path


def test_odd_sizes_keep_size_and_valid_pixels(checkpoint):
    inpainter = Inpainter.from_checkpoint(checkpoint)
    assert inpainter.arch == "pconv"
    image = torch.rand(2, 3, 21, 35)
    mask = torch.ones(2, 1, 21, 35)
    mask[:, :, 5:12, 10:20] = 0
    result = inpainter(image, mask)
    assert result.shape == image.shape
    assert torch.equal(result[mask.expand_as(image) > 0], image[mask.expand_as(image) > 0])
    assert not torch.equal(result[:, :, 5:12, 10:20], image[:, :, 5:12, 10:20])
    assert result.min() >= 0 and result.max() <= 1


def test_bad_inputs_are_refused(checkpoint):
    inpainter = Inpainter.from_checkpoint(checkpoint)
    with pytest.raises(ValueError, match=r"mask must have shape \(1, 1, 8, 8\)"):
        inpainter(torch.rand(1, 3, 8, 8), torch.ones(1, 1, 8, 9))
    with pytest.raises(ValueError, match="mask values must be 0 \\(hole\\) or 1"):
        inpainter(torch.rand(1, 3, 8, 8), torch.full((1, 1, 8, 8), 0.5))
    with pytest.raises(ValueError, match="image must have shape"):
        inpainter(torch.rand(3, 8, 8), torch.ones(1, 1, 8, 8))


def test_pad_reflect_mirrors_and_handles_large_pads():
    x = torch.arange(3.0).view(1, 1, 1, 3)
    assert pad_reflect(x, 1, 7).flatten().tolist() == [0, 1, 2, 1, 0, 1, 2]
    assert pad_reflect(x, 3, 3).shape == (1, 1, 3, 3)


def test_files_and_folders_with_both_hole_conventions(checkpoint, tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (13, 19, 3), dtype=np.uint8)
    for name in ("a", "b"):
        (tmp_path / "photos").mkdir(exist_ok=True)
        Image.fromarray(rgb).save(tmp_path / "photos" / f"{name}.png")
        hole = np.zeros((13, 19), bool)
        hole[3:8, 4:12] = True
        write_mask_png(tmp_path / "masks" / f"{name}.png", hole)
    inpainter = Inpainter.from_checkpoint(checkpoint)
    photo, mask = tmp_path / "photos" / "a.png", tmp_path / "masks" / "a.png"
    (written,) = inpaint_files(inpainter, image=photo, mask=mask, out=tmp_path / "one.png", progress=False)
    result = np.asarray(Image.open(written))
    assert result.shape == rgb.shape and np.array_equal(result[~hole], rgb[~hole])
    written = inpaint_files(
        inpainter, image=tmp_path / "photos", mask=tmp_path / "masks", out=tmp_path / "out", progress=False
    )
    assert [path.name for path in written] == ["a.png", "b.png"]
    # the same file read as 0 = hole swaps holes and valid pixels
    (flipped,) = inpaint_files(
        inpainter, image=photo, mask=mask, out=tmp_path / "flip.png", hole_value=0, progress=False
    )
    assert np.array_equal(np.asarray(Image.open(flipped))[hole], rgb[hole])


def test_mismatched_inputs_give_one_line_errors(checkpoint, tmp_path):
    Image.new("RGB", (10, 8)).save(tmp_path / "a.png")
    write_mask_png(tmp_path / "m.png", np.zeros((8, 9), bool))
    inpainter = Inpainter.from_checkpoint(checkpoint)
    with pytest.raises(ValueError, match="m.png: mask is 9x8 but photo a.png is 10x8"):
        inpaint_files(
            inpainter,
            image=tmp_path / "a.png",
            mask=tmp_path / "m.png",
            out=tmp_path / "o.png",
            progress=False,
        )
    with pytest.raises(FileNotFoundError, match="absent: no such image file or folder"):
        inpaint_files(
            inpainter,
            image=tmp_path / "absent",
            mask=tmp_path / "m.png",
            out=tmp_path / "o.png",
            progress=False,
        )


def test_a_folder_is_checked_whole_before_anything_is_written(checkpoint, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (10, 8)).save(photos / "a.png")
    Image.new("RGB", (12, 8)).save(photos / "b.png")
    write_mask_png(tmp_path / "m.png", np.zeros((8, 10), bool))  # fits a.png only
    inpainter = Inpainter.from_checkpoint(checkpoint)
    with pytest.raises(ValueError, match="m.png: mask is 10x8 but photo b.png is 12x8"):
        inpaint_files(inpainter, image=photos, mask=tmp_path / "m.png", out=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="file: is a file; a folder of photos needs an output folder"):
        inpaint_files(inpainter, image=photos, mask=tmp_path / "m.png", out=tmp_path / "file", progress=False)


def test_pairing_by_stem(tmp_path):
    photos = [tmp_path / "a.jpg", tmp_path / "b.jpg"]
    assert pair_by_stem(photos, [tmp_path / "b.png", tmp_path / "a.png"]) == [
        (photos[0], tmp_path / "a.png"),
        (photos[1], tmp_path / "b.png"),
    ]
    assert pair_by_stem(photos, [tmp_path / "m.png"]) == [(p, tmp_path / "m.png") for p in photos]
    with pytest.raises(ValueError, match="no mask named like b.jpg"):
        pair_by_stem(photos, [tmp_path / "a.png", tmp_path / "c.png"])
    with pytest.raises(ValueError, match="mask c.png has no photo"):
        pair_by_stem(photos, [tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"])


@pytest.fixture
def aot_eager(monkeypatch):
    """torch.compile with the aot_eager backend: the traced graphs run without a C++ compiler."""
    real = torch.compile
    calls = []

    def compile_(model, **options):
        calls.append(model)
        return real(model, backend="aot_eager", **options)

    monkeypatch.setattr(torch, "compile", compile_)
    torch._dynamo.reset()  # no graphs or shape decisions left from other tests
    yield calls
    torch._dynamo.reset()


def test_compiled_inpainter_equals_eager_and_pads_small_batches(checkpoint, aot_eager):
    eager = Inpainter.from_checkpoint(checkpoint)
    compiled = Inpainter.from_checkpoint(checkpoint, compile=True)
    assert compiled.compiled and not eager.compiled and len(aot_eager) == 1
    image = torch.rand(3, 3, 21, 35)
    mask = torch.ones(3, 1, 21, 35)
    mask[:, :, 5:12, 10:20] = 0
    compiled.warm_up(3, 21, 35)
    assert torch.equal(compiled(image, mask), eager(image, mask))
    # padded to 3 rows and cut (to float rounding: a conv may sum in another order for another batch size)
    torch.testing.assert_close(compiled(image[:1], mask[:1]), eager(image[:1], mask[:1]))


def test_inpaint_files_warms_up_before_the_bar(checkpoint, aot_eager, tmp_path, capsys):
    rgb = np.random.default_rng(2).integers(0, 256, (13, 19, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    hole = np.zeros((13, 19), bool)
    hole[3:8, 4:12] = True
    write_mask_png(tmp_path / "m.png", hole)
    compiled = Inpainter.from_checkpoint(checkpoint, compile=True)
    (written,) = inpaint_files(
        compiled, image=tmp_path / "a.png", mask=tmp_path / "m.png", out=tmp_path / "o.png"
    )
    assert "compiling the network for 16x32 inputs" in capsys.readouterr().err
    assert np.array_equal(np.asarray(Image.open(written))[~hole], rgb[~hole])
