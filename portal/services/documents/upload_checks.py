"""What an uploaded PDF or image may contain: parsed by real decoders, never pattern-matched bytes.

PDFs are checked by pdf_checks.py in a child process, under limits on its memory and time: qpdf
reads every object and decodes every stream, nothing active may be in them, and what comes back
(and is stored) is the file as qpdf writes it again from the objects it checked. Images are read
with Pillow: the pixel count is bounded before anything is decoded, and metadata (EXIF with its GPS
position, XMP, text chunks, comments) is dropped from what is stored.
"""
import io
import logging
import signal
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)


class Refused(Exception):
    """The file is not accepted; `code` is damaged | active_content | encrypted | too_large | too_complex."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


# ---------------------------------------------------------------- PDF

_PDF_CHILD = Path(__file__).with_name("pdf_checks.py")
# What the child may take beyond its time limit to start (an interpreter and pikepdf) and answer.
_STARTUP_SECONDS = 5
MAX_OBJECTS, CHECK_SECONDS, CHECK_MEMORY_MB = 50_000, 10.0, 512  # the defaults of PDF_MAX_OBJECTS and friends


def check_pdf(data: bytes, *, max_objects: int = MAX_OBJECTS, seconds: float = CHECK_SECONDS,
              memory_mb: int = CHECK_MEMORY_MB) -> bytes:
    """The PDF as qpdf rewrote it from the objects it checked, or Refused.

    The check runs in a child process (pdf_checks.py, isolated mode) that limits its own address
    space to `memory_mb` and its CPU time to `seconds`, and gives up once `seconds` have passed;
    this process kills it a little later still, whatever it is doing. A file that needs more is
    refused as too complex: qpdf's own work (opening, listing objects, writing) cannot be
    interrupted from inside, only bounded from outside.
    """
    command = [sys.executable, "-I", str(_PDF_CHILD), str(int(max_objects)), repr(float(seconds)), str(int(memory_mb))]
    try:
        done = subprocess.run(command, input=data, capture_output=True, timeout=float(seconds) + _STARTUP_SECONDS,
                              check=False)
    except subprocess.TimeoutExpired:
        raise Refused("too_complex", "time") from None
    head, _sep, rest = done.stdout.partition(b"\n")
    if done.returncode == 0 and head == b"ok":
        return rest
    if done.returncode == 0 and head.startswith(b"refused "):
        _word, code, detail = (head.decode("ascii", "replace").split(" ", 2) + [""])[:3]
        raise Refused(code, detail)
    if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        raise Refused("too_complex", "time")
    if done.returncode == -signal.SIGABRT and b"bad_alloc" in done.stderr:  # qpdf ran out of memory
        raise Refused("too_complex", "memory")
    if done.returncode < 0:  # qpdf itself crashed on this file
        log.warning("the PDF check ended with signal %s", -done.returncode)
        raise Refused("damaged", f"signal {-done.returncode}")
    raise RuntimeError(f"the PDF check could not run (exit {done.returncode}): {done.stderr[-600:]!r}")


# ---------------------------------------------------------------- images

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks that change how the picture looks; every other ancillary chunk (tEXt, zTXt, iTXt, eXIf,
# tIME, and private ones) is metadata and is dropped.
_PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
             b"pHYs", b"acTL", b"fcTL", b"fdAT"}
# JPEG segments kept: APP0 (JFIF), APP2 (ICC colour profile), APP14 (Adobe colour transform);
# APP1 (EXIF, XMP), the other APPn and comments are metadata.
_JPEG_KEEP_APP = {0xE0, 0xE2, 0xEE}
_EXIF_ORIENTATION = 0x0112


def image_size(data: bytes, fmt: str, max_pixels: int) -> tuple[int, int]:
    """Width and height from the header (nothing is decoded); Refused when over `max_pixels`."""
    try:
        with _open(data, fmt) as img:
            width, height = img.size
    except Image.DecompressionBombError:
        raise Refused("too_large", "pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise Refused("damaged", type(exc).__name__) from exc
    if width <= 0 or height <= 0:
        raise Refused("damaged", "no pixels")
    if width * height > max_pixels:
        raise Refused("too_large", f"{width}x{height}")
    return width, height


def _open(data: bytes, fmt: str) -> Image.Image:
    # Pillow's own bomb warning uses a process-wide limit; the configured limit is checked instead.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data), formats=[fmt])


def strip_png(data: bytes) -> bytes:
    """The PNG without its metadata chunks (the pixels and colour information are untouched)."""
    out, pos = [_PNG_SIGNATURE], len(_PNG_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        end = pos + 12 + length
        if data[pos + 4:pos + 8] in _PNG_KEEP:
            out.append(data[pos:end])
        pos = end
    return b"".join(out)


def strip_jpeg(data: bytes) -> bytes:
    """The JPEG without EXIF, XMP, other APPn segments and comments, the scan data untouched.

    The EXIF orientation is the one piece of metadata that changes how the picture is shown (a
    phone photo taken sideways): it is kept, in a new EXIF segment that holds nothing else.
    """
    orientation = _jpeg_orientation(data)
    out, pos = [data[:2]], 2
    if orientation not in (None, 1):
        exif = Image.Exif()
        exif[_EXIF_ORIENTATION] = orientation
        payload = exif.tobytes()  # starts with the APP1 identifier "Exif\0\0"
        if not payload.startswith(b"Exif\x00\x00"):
            payload = b"Exif\x00\x00" + payload
        out.append(b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload)
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        end = pos + 2 + length
        if marker == 0xDA:  # start of scan: the rest is picture data
            out.append(data[pos:])
            return b"".join(out)
        if not ((0xE0 <= marker <= 0xEF and marker not in _JPEG_KEEP_APP) or marker == 0xFE):
            out.append(data[pos:end])
        pos = end
    raise Refused("damaged", "no scan")


def _jpeg_orientation(data: bytes) -> int | None:
    try:
        with _open(data, "JPEG") as img:
            value = img.getexif().get(_EXIF_ORIENTATION)
    except (OSError, SyntaxError, ValueError, zlib.error, struct.error, Image.DecompressionBombError):
        return None
    return value if isinstance(value, int) and 1 <= value <= 8 else None
