"""The one clock: nothing in the portal reads the time except portal/clock.py."""
import re
from pathlib import Path

import portal

DIRECT_READS = re.compile(r"\b(datetime\.now|datetime\.utcnow|datetime\.today|date\.today|time\.time|"
                          r"time\.localtime|time\.gmtime)\(")


def test_only_the_clock_module_reads_the_time():
    package = Path(portal.__file__).parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "clock.py" and path.parent == package:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if DIRECT_READS.search(line):
                offenders.append(f"{path.relative_to(package.parent)}:{number}: {line.strip()}")
    assert offenders == [], "read the time through portal.clock:\n" + "\n".join(offenders)


def test_templates_do_not_read_the_time():
    templates = Path(portal.__file__).parent.parent / "templates"
    assert not [p for p in templates.rglob("*.html") if re.search(r"\bnow\(\)|utcnow", p.read_text())]
