import doctest

import pytest
import torch

from pconv.pconv_model import normalization
from pconv.pconv_model.normalization import IDENTITY, IMAGENET_RGB, SYMMETRIC_BGR, Normalization


def test_doctest_examples_run():
    assert doctest.testmod(normalization).failed == 0


@pytest.mark.parametrize("norm", [IDENTITY, IMAGENET_RGB, SYMMETRIC_BGR])
def test_round_trip_and_dict_form(norm):
    image = torch.rand(2, 3, 5, 4)
    assert torch.allclose(norm.from_network(norm.to_network(image)), image, atol=1e-6)
    assert Normalization.from_dict(norm.to_dict()) == norm


def test_imagenet_and_bgr_units():
    image = torch.rand(1, 3, 2, 2)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    assert torch.allclose(IMAGENET_RGB.to_network(image), (image - mean) / std)
    assert torch.allclose(SYMMETRIC_BGR.to_network(image), image[:, [2, 1, 0]] * 2 - 1)


def test_checkpoints_without_an_entry_take_identity_and_bad_entries_are_refused():
    assert Normalization.from_dict(None) is IDENTITY
    with pytest.raises(ValueError, match="lacks mean, std or channels"):
        Normalization.from_dict({"mean": [0, 0, 0]})
    with pytest.raises(ValueError, match="channel order must be rgb or bgr"):
        Normalization.from_dict({"mean": [0, 0, 0], "std": [1, 1, 1], "channels": "yuv"})
    with pytest.raises(ValueError, match="std values must be > 0"):
        Normalization(std=(1.0, 0.0, 1.0))
