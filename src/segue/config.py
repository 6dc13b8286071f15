"""Where segue keeps its files, and the environment variables that move them.

- ``SEGUE_DB``: the library database (default: ``<user data dir>/segue/library.db``).
- ``SEGUE_CACHE``: downloaded and converted model weights (default: ``<user cache dir>/segue``).
- ``NUMBA_CACHE_DIR``: where numba keeps the code it compiles for ``segue map`` (UMAP,
  pynndescent; default for segue: ``<SEGUE_CACHE>/numba``, not numba's own default beside the
  packages in site-packages, which every process of the install shares).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "segue"


def default_db_path() -> Path:
    """The library database path: ``$SEGUE_DB`` or the platform's user data dir."""
    env = os.environ.get("SEGUE_DB")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME)) / "library.db"


def cache_dir() -> Path:
    """The cache folder for model weights: ``$SEGUE_CACHE`` or the platform's user cache dir."""
    env = os.environ.get("SEGUE_CACHE")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir(APP_NAME))


def numba_cache_dir() -> Path:
    """segue's cache of numba-compiled code (UMAP and pynndescent, behind ``segue map``):
    ``$NUMBA_CACHE_DIR`` if the user set it, else ``<cache dir>/numba``."""
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return cache_dir() / "numba"
