"""The fast Gauss-Krüger transformers give the EPSG definitions' figures."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest

from boundaries.crs import gauss_kruger, transformer


@pytest.mark.parametrize("epsg", [4491, 4497, 4501, 4502, 4512, 4513, 4527, 4533, 4534, 4547, 4554])
def test_zone_transformers_agree_with_epsg_to_a_tenth_of_a_millimetre(epsg):
    zone = gauss_kruger(epsg)
    rng = np.random.default_rng(epsg)
    # across the whole strip and 1.5° beyond it (a long line is projected into the zone of its centre)
    reach = zone.width / 2 + 1.5
    lon = rng.uniform(zone.central_meridian - reach, zone.central_meridian + reach, 5000)
    lat = rng.uniform(3.0, 54.0, 5000)
    reference = pyproj.Transformer.from_crs(4490, epsg, always_xy=True)
    x, y = transformer(4490, epsg).transform(lon, lat)
    x_ref, y_ref = reference.transform(lon, lat)
    assert np.abs(x - x_ref).max() < 1e-4 and np.abs(y - y_ref).max() < 1e-4
    back_lon, back_lat = transformer(epsg, 4490).transform(x_ref, y_ref)
    # 1e-9° is about 0.1 mm
    assert np.abs(back_lon - lon).max() < 1e-9 and np.abs(back_lat - lat).max() < 1e-9


def test_other_pairs_use_the_epsg_definitions():
    lon, lat = transformer(4326, 4490).transform(116.39, 39.91)
    assert abs(lon - 116.39) < 1e-6 and abs(lat - 39.91) < 1e-6
