"""The Nu HTML Checker (npm `vnu-jar`, run on Java): saved pages checked in one JVM run.

A missing Java or checker skips the tests that need it on a developer machine and fails them in CI
(CI=true), where .ci/run installs both."""
import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
VNU_JAR = Path(os.environ.get("PORTAL_VNU_JAR") or REPO_ROOT / "node_modules/vnu-jar/build/dist/vnu.jar")
JAVA = os.environ.get("PORTAL_JAVA") or shutil.which("java") or "/usr/bin/java"


def require_checker() -> None:
    """Skip (fail in CI) when Java or the checker is not installed."""
    missing = [what for what, path in (("Java", JAVA), ("vnu.jar", VNU_JAR)) if not Path(path).exists()]
    if not missing:
        return
    message = (f"{' and '.join(missing)} not found ({JAVA}, {VNU_JAR}): "
               "apt-get install default-jre-headless; npm ci --ignore-scripts")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def save_pages(pages: dict[str, str], folder: Path) -> dict[Path, str]:
    """Write each page (name -> HTML) to folder/<name>.html; returns file -> name."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for number, (name, html) in enumerate(pages.items()):
        path = folder / f"page-{number:03d}.html"
        path.write_text(html, encoding="utf-8")
        files[path.resolve()] = name
    return files


def errors_in(pages: dict[str, str], folder: Path) -> dict[str, list[str]]:
    """Check every page in one run of the checker; returns page name -> its error messages."""
    require_checker()
    files = save_pages(pages, folder)
    run = subprocess.run([JAVA, "-jar", str(VNU_JAR), "--format", "json", "--exit-zero-always",
                          *[str(p) for p in files]], capture_output=True, text=True, timeout=600)
    report = json.loads(run.stderr or run.stdout)
    found: dict[str, list[str]] = {}
    for message in report["messages"]:
        if message.get("type") == "error" or message.get("subType") == "fatal":
            url = message.get("url", "?")
            name = files.get(Path(unquote(url.removeprefix("file:"))).resolve(), url)
            found.setdefault(name, []).append(
                f"line {message.get('lastLine', '?')}: {message['message']} [{message.get('extract', '').strip()}]")
    return found
