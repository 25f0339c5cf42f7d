"""Loading, validation and checking of the bundled and user catalogs."""

from rigtui.catalog.loader import bundled_data_dir, load_catalog, load_user_catalog

__all__ = ["bundled_data_dir", "load_catalog", "load_user_catalog"]
