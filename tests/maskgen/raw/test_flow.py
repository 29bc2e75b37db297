import cv2
import numpy as np
import pytest

from pconv.maskgen.raw.flow import FLOW_METHODS, scaled_flow


def shifted_pair(shift: int = 3, size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random texture and the same texture moved ``shift`` px to the right."""
    rng = np.random.default_rng(0)
    base = cv2.resize(
        rng.random((24, 24), dtype=np.float32), (size + 2 * shift, size), interpolation=cv2.INTER_CUBIC
    )
    base = cv2.normalize(base, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return base[:, shift : shift + size], base[:, :size]


@pytest.mark.parametrize("method", sorted(FLOW_METHODS))
def test_every_method_finds_a_global_shift(method):
    first, second = shifted_pair()
    flow = scaled_flow(method, first, second)
    assert flow.shape == (96, 96, 2) and flow.dtype == np.float32
    centre = flow[24:72, 24:72]
    assert abs(float(np.median(centre[..., 0])) - 3) < 0.5
    assert abs(float(np.median(centre[..., 1]))) < 0.5


def test_scaled_flow_is_in_full_size_pixels():
    first, second = shifted_pair(shift=4)
    flow = scaled_flow("farneback", first, second, scale=0.5)
    assert flow.shape == (96, 96, 2)
    assert abs(float(np.median(flow[24:72, 24:72, 0])) - 4) < 0.75


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "raft"}, "unknown flow method 'raft'"),
        ({"scale": 0.0}, "flow scale must be in"),
    ],
)
def test_bad_flow_requests(kwargs, message):
    first, second = shifted_pair()
    with pytest.raises(ValueError, match=message):
        scaled_flow(kwargs.get("method", "dis"), first, second, scale=kwargs.get("scale", 1.0))
