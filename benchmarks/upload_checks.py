"""Figures for the upload checks (pikepdf and Pillow): time per file for ordinary and hostile
uploads, and the process's peak memory. Prints numbers; asserts nothing.

usage: python benchmarks/upload_checks.py [--repeat N]
"""
import argparse
import io
import resource
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image  # noqa: E402

from portal.services.documents import upload_checks  # noqa: E402
from tests import files  # noqa: E402
from tests.evasions import EVASIONS, pdf_with_object_stream  # noqa: E402


def many_objects(n: int) -> bytes:
    """A PDF with n small dictionaries hanging off the catalog (a long form, many annotations)."""
    extra = [b"<< /Type /Annot /Subtype /Text /Rect [0 0 1 1] /Contents (note %d) >>" % i for i in range(n)]
    refs = " ".join(f"{6 + i} 0 R" for i in range(n))
    return files.pdf(catalog_extra=f"/Extra [{refs}] ", extra_objects=extra)


def jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (width, height), (120, 80, 40)).save(out, "JPEG", quality=85, exif=exif.tobytes())
    return out.getvalue()


def timed(label: str, fn, data: bytes, repeat: int) -> None:
    started = time.perf_counter()
    outcome = "accepted"
    for _ in range(repeat):
        try:
            fn(data)
        except upload_checks.Refused as refused:
            outcome = f"refused ({refused.code})"
    each = (time.perf_counter() - started) / repeat * 1000
    print(f"{label:<46} {len(data) / 2**20:7.2f} MB  {each:8.1f} ms  {outcome}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bomb = zlib.compress(b"\0" * (200 * 2**20), 9)
    cases = [
        ("PDF, one page", upload_checks.check_pdf, files.pdf()),
        ("PDF, 1 MB text stream", upload_checks.check_pdf, files.pdf(text="x" * (2**20 - 600))),
        ("PDF, 20,000 objects", upload_checks.check_pdf, many_objects(20_000)),
        ("PDF, JavaScript in a doubly compressed object stream", upload_checks.check_pdf,
         pdf_with_object_stream(dict_head=EVASIONS["flate_twice"][0], encode=EVASIONS["flate_twice"][1])),
        ("PDF, 200 MB flate bomb", upload_checks.check_pdf,
         files.pdf(extra_objects=(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(bomb) + bomb
                                  + b"\nendstream",))),
    ]
    big = jpeg(5100, 6600)  # a 600 dpi letter page
    cases += [
        ("JPEG 5100x6600 (34 MP): size check", lambda d: upload_checks.image_size(d, "JPEG", 40_000_000), big),
        ("JPEG 5100x6600 (34 MP): metadata strip", upload_checks.strip_jpeg, big),
    ]
    for label, fn, data in cases:
        timed(label, fn, data, args.repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of the whole run: {peak:.0f} MB")


if __name__ == "__main__":
    main()
