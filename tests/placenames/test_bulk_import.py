"""A large import stored batch after batch (issue 16): the same names found as by one upsert, and the key
tables' indexes all back after a first import into empty tables."""

from __future__ import annotations

import csv

import pytest

import placenames.importers as importers
from placenames.importers import import_names
from placenames.lookup import search
from placenames.store import open_name_store


def _indexes(store) -> set[str]:
    if _on_postgis(store):
        rows = store._rows("SELECT indexname FROM pg_indexes WHERE tablename IN ('name_keys', 'name_grams')")
    else:
        rows = store._rows("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN "
                           "('name_keys', 'name_grams') AND sql IS NOT NULL")
    return {row[0] for row in rows}


def _on_postgis(store) -> bool:
    return type(store).__name__ == "PostgisNameStore"


#: the answers of the first batch size, per backend, that the other must equal
_ANSWERS: dict[bool, str] = {}


def _csv(path, places):
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name", "class", "lon", "lat", "population"])
        for i, r in enumerate(places):
            writer.writerow([f"g{i}", r.name, r.klass, r.lon, r.lat, r.population or ""])
    return path


@pytest.mark.parametrize("batch", [7, 100_000])
def test_batched_import_finds_what_one_batch_finds(db_url, jiangxi_divisions, jiangxi_places, tmp_path,
                                                   monkeypatch, batch):
    """江西's GeoNames places (with their county from the polygons) imported in batches of 7 and in one:
    every place found by its name, in its county, the same answers in the same order both ways;
    the indexes the import set aside are back."""
    assert len(jiangxi_places) > 3 * 7
    with open_name_store(db_url) as store:
        _check(store, jiangxi_divisions, jiangxi_places, tmp_path, monkeypatch, batch)


def _check(store, jiangxi_divisions, jiangxi_places, tmp_path, monkeypatch, batch) -> None:
    store.init()
    before = _indexes(store)
    with store.write():
        store.put_divisions(jiangxi_divisions)
    monkeypatch.setattr(importers, "IMPORT_BATCH", batch)
    result = import_names(store, _csv(tmp_path / "places.csv", jiangxi_places))
    assert result[:2] == (len(jiangxi_places), 0)
    assert _indexes(store) == before and before
    found, codes = {}, {}
    for place in jiangxi_places:
        hits = search(store, place.name)
        assert place.name in [h["name"] for h in hits]
        codes[place.name] = next(h["code"] for h in hits if h["name"] == place.name)
        found[place.name] = [(h["name"], h["code"]) for h in hits]
    # the box around 江西 reaches into its neighbours: the places inside its polygons get a county of 36
    assert sum(bool(c) and c.startswith("36") for c in codes.values()) > len(codes) / 2
    # the answers do not depend on the batch size: compared with those of the other parameter
    text = repr(sorted((found | {"codes": sorted(codes.items())}).items()))
    first = _ANSWERS.setdefault(_on_postgis(store), text)
    assert first == text
