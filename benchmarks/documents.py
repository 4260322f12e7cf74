"""Figures for the documents service: store and read throughput, peak memory of one upload and
one download at the size cap (each in a fresh subprocess, beside the target: growth under 2x the
file), and the re-encryption rate of `keys rotate`. Prints numbers; asserts nothing.

usage: python benchmarks/documents.py [--count N] [--database-url URL] [--memory-only]
"""
import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal import (
    create_app,  # noqa: E402
    db,  # noqa: E402
)
from portal.services.documents import keys, kinds
from portal.services.documents import store as documents  # noqa: E402
from tests import files  # noqa: E402


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak_rss() -> float:
    """Start the peak RSS (VmHWM) afresh at the current RSS (Linux: clear_refs 5); the RSS now."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _status_mb("VmRSS")


def memory_child(what: str, tmp: str, url: str) -> dict:
    """In a fresh process: the peak memory growth of storing (or reading and serving) one
    document at the size cap. The upload comes as werkzeug hands it to a view: a file on disk."""
    from portal import web
    from portal.models import Document
    app = create_app({"INSTANCE_PATH": tmp, "DATABASE_URL": url, "MAIL_BACKGROUND_DELIVERY": False})
    with app.app_context():
        session = db.session()
        path = Path(tmp) / "upload.pdf"  # written by the parent, so making it costs this process nothing
        size = path.stat().st_size
        doc = session.get(Document, 1) if what == "download" else None
        with path.open("rb") as stream:
            rss_before = _reset_peak_rss()
            tracemalloc.start()
            base, _ = tracemalloc.get_traced_memory()
            started = time.perf_counter()
            if what == "upload":
                documents.store(session, stream=stream, filename="big.pdf", declared_type="application/pdf",
                                purpose="authorization", uploaded_by="benchmark")
                session.commit()
            else:
                with app.test_request_context():
                    response = web.send_document(doc, documents.read(session, document=doc))
                    sent = sum(len(part) for part in response.response)
                    assert sent == doc.size
                    size = doc.size
            elapsed = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    app.extensions["db_engine"].dispose()
    return {"size": size, "peak": peak - base, "rss": _status_mb("VmHWM") - rss_before, "ms": elapsed * 1000}


def memory_figures(url: str, tmp: str) -> None:
    """One upload then one download at the cap, each measured in its own process."""
    app = create_app({"INSTANCE_PATH": tmp, "DATABASE_URL": url, "MAIL_BACKGROUND_DELIVERY": False})
    # The PDF's structure takes about 600 bytes; its one content stream is the rest, uncompressed
    # (the worst case for the PDF check, which decodes every stream once).
    (Path(tmp) / "upload.pdf").write_bytes(files.pdf(text="x" * (app.config["DOCUMENT_MAX_BYTES"] - 1000)))
    app.extensions["db_engine"].dispose()
    for what in ("upload", "download"):
        out = subprocess.run([sys.executable, __file__, "--child", what, "--tmp", tmp, "--database-url", url],
                             capture_output=True, text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        mb = r["size"] / 2**20
        print(f"one {what} of {mb:.1f} MB: {r['ms']:.0f} ms, peak Python memory growth {r['peak'] / 2**20:.1f} MB "
              f"({r['peak'] / r['size']:.3f} x the file; target < 2 x), peak RSS growth {r['rss']:.1f} MB "
              f"({r['rss'] / mb:.2f} x)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=50, help="documents of about 1 MB to store")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--memory-only", action="store_true", help="only the upload/download memory figures")
    parser.add_argument("--child", choices=("upload", "download"), help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(memory_child(args.child, args.tmp, args.database_url)))
        return
    if args.memory_only:
        with tempfile.TemporaryDirectory() as tmp:
            url = args.database_url or f"sqlite:///{tmp}/portal.db"
            db.upgrade(url)
            memory_figures(url, tmp)
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/portal.db"
        db.upgrade(url)
        app = create_app({"INSTANCE_PATH": tmp, "DATABASE_URL": url, "MAIL_BACKGROUND_DELIVERY": False})
        with app.app_context():
            session = db.session()
            one_mb = files.pdf(text="x" * (1024 * 1024 - 600))
            started = time.perf_counter()
            docs = []
            for _ in range(args.count):
                docs.append(documents.store(session, stream=io.BytesIO(one_mb), filename="letter.pdf",
                                            declared_type="application/pdf", purpose="authorization",
                                            uploaded_by="benchmark"))
                session.commit()
            elapsed = time.perf_counter() - started
            print(f"store: {args.count} x {len(one_mb) / 2**20:.2f} MB in {elapsed:.2f} s "
                  f"({args.count * len(one_mb) / 2**20 / elapsed:.1f} MB/s, {elapsed / args.count * 1000:.1f} ms each)")

            started = time.perf_counter()
            for doc in docs:
                documents.read(session, document=doc)
            elapsed = time.perf_counter() - started
            print(f"read:  {args.count} documents in {elapsed:.2f} s ({elapsed / args.count * 1000:.1f} ms each)")

            cap = app.config["DOCUMENT_MAX_BYTES"]
            # Crafted PDFs at the cap: the checks must stay linear (no regex backtracking, no re-scans).
            for label, filler in [("many '<<'", b"<<"), ("many names", b"/a"), ("many escaped names", b"/J#61"),
                                  ("many object streams", b"/ObjStm "),
                                  ("unterminated streams", b"/ObjStm /FlateDecode >>\nstream\n")]:
                crafted = files.pdf(text="x", extra_objects=(filler * ((cap - 2000) // len(filler)),))
                started = time.perf_counter()
                try:
                    documents.store(session, stream=io.BytesIO(crafted), filename="c.pdf",
                                    declared_type="application/pdf", purpose="authorization", uploaded_by="benchmark")
                    outcome = "accepted"
                except kinds.DocumentRejected as exc:
                    outcome = f"refused ({exc.code})"
                session.rollback()
                print(f"crafted PDF, {label}: {time.perf_counter() - started:.2f} s, {outcome}")

            keys.rotate_key_file(Path(tmp) / "encryption_keys")
            started = time.perf_counter()
            result = documents.reencrypt_all(session)
            elapsed = time.perf_counter() - started
            print(f"re-encrypt: {result.reencrypted} documents in {elapsed:.2f} s "
                  f"({result.reencrypted / elapsed:.1f} documents/s)")
        app.extensions["db_engine"].dispose()
        if args.database_url:
            return  # the memory runs need a database with no document yet
        with tempfile.TemporaryDirectory() as fresh:
            url = f"sqlite:///{fresh}/portal.db"
            db.upgrade(url)
            memory_figures(url, fresh)


if __name__ == "__main__":
    main()
