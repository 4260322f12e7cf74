"""The Spanish catalog is complete, keeps every placeholder, and its compiled form is current."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

REPO = Path(__file__).resolve().parents[2]
CATALOGS = sorted((REPO / "translations").glob("*/LC_MESSAGES/messages.po"))
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]")


def _read(path: Path):
    with path.open("rb") as fh:
        return read_po(fh)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The msgids in the code and templates now, extracted as `make messages` does."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "extract", "-F", "babel.cfg", "-k", "_l",
                    "--ignore-dirs", ".* _* node_modules docs", "-o", str(pot), "."],
                   cwd=REPO, check=True, capture_output=True)
    return {m.id for m in _read(pot) if m.id}


def test_there_is_a_spanish_catalog():
    assert [p.parts[-3] for p in CATALOGS] == ["es"]


@pytest.mark.parametrize("po", CATALOGS, ids=lambda p: p.parts[-3])
def test_every_msgid_is_translated(po, extracted):
    catalog = _read(po)
    missing = sorted(str(i) for i in extracted if i not in catalog or not catalog[i].string or catalog[i].fuzzy)
    assert not missing, f"{len(missing)} msgids without a translation in {po} (run `make messages`):\n" + "\n".join(missing)


@pytest.mark.parametrize("po", CATALOGS, ids=lambda p: p.parts[-3])
def test_translations_keep_every_placeholder(po):
    wrong = []
    for m in _read(po):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        expected = sorted(PLACEHOLDER.findall(ids[-1]))
        wrong += [f"{ids[0]!r} -> {s!r}" for s in strings if s and sorted(PLACEHOLDER.findall(s)) != expected]
    assert not wrong, "translations that drop or add a placeholder:\n" + "\n".join(wrong)


@pytest.mark.parametrize("po", CATALOGS, ids=lambda p: p.parts[-3])
def test_the_compiled_catalog_is_current(po):
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{mo} is missing: run `make translations`"
    with mo.open("rb") as fh:
        compiled = {m.id: m.string for m in read_mo(fh) if m.id}
    source = {m.id: m.string for m in _read(po) if m.id and m.string and not m.fuzzy}
    assert compiled == source, f"{mo} is out of date: run `make translations`"
