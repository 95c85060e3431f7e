"""quhua's boundary core: boundary lines (界线) and boundary markers (界桩) — read, check, store, export.

Public entry points, each in its own module so that importing this package stays cheap:

- :func:`boundaries.pipeline.check_paths` / :func:`boundaries.pipeline.ingest_paths`: a submission's files
  end to end (``quhua check`` / ``quhua ingest``).
- :func:`boundaries.readers.read_submission`: files → :class:`boundaries.model.Submission` in EPSG:4490.
- :func:`boundaries.store.open_store`: the database (GeoPackage path or PostGIS URL) behind one interface.
- :mod:`boundaries.rules`: the registry of QA rules; :func:`boundaries.config.load_config` their settings.
- :func:`boundaries.export.export_layer`: a stored layer as GeoJSON, GeoPackage, CSV or shapefile.

This package never imports Flask, folium or the packages built on it (``placenames``, ``webmap``), and
its storage and model modules import geopandas, pandas, numpy and shapely on first use
(:func:`boundaries._lazy.lazy_module`), so that ``quhua --help`` and ``quhua names search`` start without them.
"""
