"""Figures for the documents service: store and read throughput, peak memory of one upload at
the size cap, and the re-encryption rate of `keys rotate`. Prints numbers; asserts nothing.

usage: python benchmarks/documents.py [--count N] [--database-url URL]
"""
import argparse
import io
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
from portal.services import documents  # noqa: E402
from tests import files  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=50, help="documents of about 1 MB to store")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
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
            biggest = files.pdf(text="x" * (cap - 1000))  # the PDF's structure takes about 600 bytes
            assert len(biggest) <= cap
            tracemalloc.start()
            started = time.perf_counter()
            documents.store(session, stream=io.BytesIO(biggest), filename="big.pdf", declared_type="application/pdf",
                            purpose="authorization", uploaded_by="benchmark")
            session.commit()
            elapsed = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"one upload at the cap ({len(biggest) / 2**20:.2f} MB): {elapsed * 1000:.0f} ms, "
                  f"peak Python memory {peak / 2**20:.1f} MB ({peak / len(biggest):.1f} x the file)")

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
                except documents.DocumentRejected as exc:
                    outcome = f"refused ({exc.code})"
                session.rollback()
                print(f"crafted PDF, {label}: {time.perf_counter() - started:.2f} s, {outcome}")

            documents.rotate_key_file(Path(tmp) / "encryption_keys")
            started = time.perf_counter()
            result = documents.reencrypt_all(session)
            elapsed = time.perf_counter() - started
            print(f"re-encrypt: {result.reencrypted} documents in {elapsed:.2f} s "
                  f"({result.reencrypted / elapsed:.1f} documents/s)")
        app.extensions["db_engine"].dispose()


if __name__ == "__main__":
    main()
