"""Figures for the upload checks (pikepdf and Pillow): time per file for ordinary and hostile
uploads, and peak memory. A PDF is checked in a child process (pdf_checks.py): its CPU time and
the children's peak resident memory are printed beside the wall time. Prints numbers; asserts nothing.

usage: python benchmarks/upload_checks.py [--repeat N]
"""
import argparse
import io
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pikepdf  # noqa: E402
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


def packed_objects(n: int) -> bytes:
    """A PDF with n empty dictionaries packed into object streams: a few MB that qpdf lists as n objects."""
    pdf = pikepdf.open(io.BytesIO(files.pdf()))
    pdf.Root.Extra = pikepdf.Array([pdf.make_indirect(pikepdf.Dictionary()) for _ in range(n)])
    out = io.BytesIO()
    pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return out.getvalue()


def timed(label: str, fn, data: bytes, repeat: int) -> None:
    started = time.perf_counter()
    outcome = "accepted"
    for _ in range(repeat):
        try:
            fn(data)
        except upload_checks.Refused as refused:
            outcome = f"refused ({refused.code}: {refused.detail})"
    each = (time.perf_counter() - started) / repeat * 1000
    print(f"{label:<50} {len(data) / 2**20:7.2f} MB  {each:8.1f} ms  {outcome}")


def one_pdf(path: str, repeat: int) -> None:
    """Run in a small process of its own (so the children's peak is the check's, not inherited
    from a large parent): check one file, print wall ms, outcome, child CPU ms, child peak MB."""
    data = Path(path).read_bytes()
    started = time.perf_counter()
    outcome = "accepted"
    for _ in range(repeat):
        try:
            upload_checks.check_pdf(data)
        except upload_checks.Refused as refused:
            outcome = f"refused ({refused.code}: {refused.detail})"
    wall = (time.perf_counter() - started) / repeat * 1000
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"{wall:.1f}\t{outcome}\t{(usage.ru_utime + usage.ru_stime) / repeat * 1000:.1f}\t{usage.ru_maxrss / 1024:.0f}")


def timed_pdf(label: str, data: bytes, repeat: int, folder: str) -> None:
    path = Path(folder) / "upload.pdf"
    path.write_bytes(data)
    run = subprocess.run([sys.executable, __file__, "--one", str(path), "--repeat", str(repeat)],
                         capture_output=True, text=True, check=True)
    wall, outcome, cpu, peak = run.stdout.strip().split("\t")
    print(f"{label:<50} {len(data) / 2**20:7.2f} MB  {float(wall):8.1f} ms  {outcome:<44} "
          f"child CPU {float(cpu):7.1f} ms, peak {peak:>4} MB")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one_pdf(args.one, args.repeat)
        return
    bomb = zlib.compress(b"\0" * (200 * 2**20), 9)
    pdfs = [
        ("PDF, one page", files.pdf()),
        ("PDF, 1 MB text stream", files.pdf(text="x" * (2**20 - 600))),
        ("PDF, 20,000 objects", many_objects(20_000)),
        ("PDF, 49,990 objects (under PDF_MAX_OBJECTS)", many_objects(49_990)),
        ("PDF, 190,000 objects", many_objects(190_000)),
        ("PDF, 1,000,000 objects in object streams", packed_objects(1_000_000)),
        ("PDF, JavaScript in a doubly compressed object stream",
         pdf_with_object_stream(dict_head=EVASIONS["flate_twice"][0], encode=EVASIONS["flate_twice"][1])),
        ("PDF, 200 MB flate bomb",
         files.pdf(extra_objects=(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(bomb) + bomb
                                  + b"\nendstream",))),
    ]
    print("PDFs: wall time per check in this process; CPU and peak resident memory of the checking child")
    with tempfile.TemporaryDirectory() as folder:
        for label, data in pdfs:
            timed_pdf(label, data, args.repeat, folder)
    big = jpeg(5100, 6600)  # a 600 dpi letter page
    for label, fn, data in [
        ("JPEG 5100x6600 (34 MP): size check", lambda d: upload_checks.image_size(d, "JPEG", 40_000_000), big),
        ("JPEG 5100x6600 (34 MP): metadata strip", upload_checks.strip_jpeg, big),
    ]:
        timed(label, fn, data, args.repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process (builds the files, checks images): {peak:.0f} MB")


if __name__ == "__main__":
    main()
