"""Suite-wide settings.

The suite tests with the synthetic stand-in model (resources/models/synthetic-shapes-v1): its
behaviour on generated shape photos ("red circle" finds red circles) is what many tests assert,
while users get the real default model named in resources/models/DEFAULT. A test that needs the
shipped default unsets the variable (see tests/test_default_model.py).
"""

import os
import shutil

import pytest

os.environ.setdefault("ATTALOS_DEFAULT_MODEL", "synthetic-shapes-v1")


@pytest.fixture(scope="session")
def exiftool() -> str:
    """ExifTool, to write photos' EXIF and read sidecars as other programs do; a clear failure without it."""
    path = shutil.which("exiftool")
    if path is None:
        pytest.fail(
            "exiftool is not installed: install the Debian package libimage-exiftool-perl "
            "(scripts/test.sh installs it when run as root)"
        )
    return path
