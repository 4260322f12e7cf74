"""What an uploaded PDF or image may contain: parsed by real decoders, never pattern-matched bytes.

PDFs are opened with pikepdf (qpdf): every object is walked, object streams and every stream
filter decoded by qpdf itself, and names compared after qpdf has undone their #xx escapes, so the
encoding of a file cannot hide what it does. Images are read with Pillow: the pixel count is
bounded before anything is decoded, and metadata (EXIF with its GPS position, XMP, text chunks,
comments) is dropped from what is stored.
"""
import io
import struct
import warnings
import zlib

import pikepdf
from PIL import Image, UnidentifiedImageError

# qpdf decodes without limit by default: a 10 MB Flate bomb would expand to 10 GB. These limits
# are process-wide (qpdf keeps them globally), so they are set once, here, at import.
_DECODE_LIMIT = 64 * 1024 * 1024
# All the streams of one file together: a file of many small bombs stops here.
_DECODE_BUDGET = 256 * 1024 * 1024
pikepdf.settings.set_qpdf_limits(flate_max_memory=_DECODE_LIMIT, run_length_max_memory=_DECODE_LIMIT,
                                 png_max_memory=_DECODE_LIMIT, tiff_max_memory=_DECODE_LIMIT)


class Refused(Exception):
    """The file is not accepted; `code` is damaged | active_content | encrypted | too_large."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


# ---------------------------------------------------------------- PDF

# Names that make a viewer run, open, play or send something, wherever they appear (as a key, an
# action type, an annotation subtype): scripts, launching programs, embedded and attached files,
# multimedia, XFA forms, form submission, and going to other files.
ACTIVE_NAMES = frozenset("/" + n for n in (
    "JavaScript", "JS", "Launch", "EmbeddedFile", "EmbeddedFiles", "EF", "FileAttachment",
    "RichMedia", "RichMediaExecute", "RichMediaContent", "XFA", "SubmitForm", "ImportData",
    "GoToE", "GoToR", "Rendition", "Movie", "Sound", "Screen", "3D"))
# What may run by itself (the catalog's /OpenAction, any /AA trigger): only moving within the
# document. A URI action is navigation when a person clicks a link, so links may carry one; run
# automatically it would make the viewer contact an outside server the moment staff open the
# file (a tracking beacon, or a phishing page), so an automatic URI is refused.
AUTOMATIC_ALLOWED = frozenset({"/GoTo"})


def check_pdf(data: bytes) -> None:
    """Raise Refused unless qpdf can read the whole file and nothing in it is active content."""
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError as exc:
        raise Refused("encrypted", "password required") from exc
    except (pikepdf.PdfError, ValueError, RuntimeError) as exc:
        raise Refused("damaged", type(exc).__name__) from exc
    with pdf:
        try:
            found = _active_content(pdf)
        except (pikepdf.PdfError, ValueError, RuntimeError, RecursionError) as exc:
            raise Refused("damaged", type(exc).__name__) from exc
    if found:
        raise Refused("active_content", found)


def _active_content(pdf: pikepdf.Pdf) -> str | None:
    """The first active name or automatic action found in any object, or None."""
    budget = _DECODE_BUDGET
    # Every indirect object is in pdf.objects (qpdf lists what the cross-reference table, or the
    # table it rebuilt, names, object streams included), so the walk descends into direct
    # children only and visits each object once.
    stack = list(pdf.objects) + [pdf.trailer]
    while stack:
        obj = stack.pop()
        if isinstance(obj, pikepdf.Name):
            if str(obj) in ACTIVE_NAMES:
                return str(obj)
        elif isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
            if isinstance(obj, pikepdf.Stream):
                budget -= _decoded_size(obj)
                if budget < 0:
                    raise ValueError("streams decode to more than the budget")
            for key in obj.keys():
                if key in ACTIVE_NAMES:
                    return key
                value = obj.get(key)
                if key == "/OpenAction" and not _navigation_only(value):
                    return "automatic /OpenAction"
                if key == "/AA" and isinstance(value, pikepdf.Dictionary) and not all(
                        _navigation_only(value.get(trigger)) for trigger in value.keys()):
                    return "automatic /AA"
                _push_direct(stack, value)
        elif isinstance(obj, pikepdf.Array):
            for item in obj:
                _push_direct(stack, item)
    return None


def _push_direct(stack: list, value) -> None:
    # Numbers and booleans come back as Python values; indirect objects are walked from pdf.objects.
    if isinstance(value, pikepdf.Object) and not value.is_indirect:
        stack.append(value)


def _decoded_size(stream: pikepdf.Stream) -> int:
    """Decode one stream (raising when qpdf cannot, or when it passes the limits) and discard it.

    What qpdf cannot decode, a lenient viewer might, and then we would not have seen it. Image
    pixels are the exception: nothing in them is read as PDF objects, and a scanned page's
    pixels may legitimately be larger than the limit.
    """
    if stream.get("/Subtype") == pikepdf.Name.Image:
        return 0
    if stream.get("/Filter") is None:
        # Unfiltered: the decoded bytes are the raw bytes qpdf delimited when it parsed the object,
        # so there is nothing to decode differently, and no bomb (they are part of the file). Not
        # copying them keeps a large uncompressed page from doubling an upload's memory.
        return 0
    return len(stream.read_bytes())


def _navigation_only(action, depth: int = 0) -> bool:
    """An explicit destination (an array), or a GoTo action whose /Next actions are GoTo too."""
    if isinstance(action, pikepdf.Array):
        return True
    if not isinstance(action, pikepdf.Dictionary) or depth > 32:
        return False
    if str(action.get("/S")) not in AUTOMATIC_ALLOWED:
        return False
    following = action.get("/Next")
    if following is None:
        return True
    chain = list(following) if isinstance(following, pikepdf.Array) else [following]
    return all(_navigation_only(a, depth + 1) for a in chain)


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
