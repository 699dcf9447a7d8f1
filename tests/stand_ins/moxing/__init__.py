"""Stand-in for ModelArts' `moxing` (see tests/stand_ins/README.md): OBS URLs are local paths, calls are logged."""
from . import file  # noqa: F401
