"""Helpers of the data map tests: the example's generator, the default bases, editing map files."""
import importlib.util
import shutil
from pathlib import Path

from portal import config

REPO = Path(__file__).resolve().parents[3]
FIDES_FIXTURE = Path(__file__).resolve().parent / "fides_written_dataset.yml"
# The denial bases as configured by default, by code (what outcomes.all_bases() gives an app).
BASES = {basis["code"]: basis for basis in config.DEFAULTS["DENIAL_BASES"]}


def load_generator():
    """examples/billgenix/generate.py as a module (the examples are not a package)."""
    spec = importlib.util.spec_from_file_location("billgenix_generate", REPO / "examples" / "billgenix" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def edit(path: Path, old: str, new: str) -> None:
    """Replace one exact piece of a map file (the test fails when it is not there)."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def copy_fixture(folder: Path) -> Path:
    """The Fides-written dataset file, copied into a map folder."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(FIDES_FIXTURE, folder / "storefront.yml"))
