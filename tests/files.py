"""Small, real test files built byte by byte: no binary fixtures."""
import struct
import zlib


def pdf(text: str = "I, Jane Consumer, authorize Lien Partners LLC to act for me.", extra_objects=(),
        catalog_extra: str = "") -> bytes:
    """A minimal valid one-page PDF with a correct xref table and trailer."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        f"<< /Type /Catalog /Pages 2 0 R {catalog_extra}>>".encode(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        *extra_objects,
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def kept(data: bytes) -> bytes:
    """What the portal keeps of an accepted PDF upload: the file as qpdf writes it again from the
    objects it checked (the same bytes for the same upload)."""
    from portal.services.documents import upload_checks
    return upload_checks.check_pdf(data)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int = 4, height: int = 3) -> bytes:
    """A real RGB PNG (a red rectangle)."""
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))


def jpeg(comment: bytes | None = None) -> bytes:
    """A JPEG's marker structure: SOI, APP0/JFIF, a comment if given, quantization table, SOF0, SOS,
    data, EOI. (A comment is metadata: the portal drops it on store.)"""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\x00" + bytes(range(1, 65))
    sof = b"\x08\x00\x01\x00\x01\x01\x01\x11\x00"
    sos = b"\x01\x01\x00\x00\x3f\x00"

    def seg(marker: int, body: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body

    return (b"\xff\xd8" + seg(0xE0, app0) + (seg(0xFE, comment) if comment is not None else b"") + seg(0xDB, dqt) + seg(0xC0, sof)
            + seg(0xDA, sos) + b"\x12\x34\x56\x78" + b"\xff\xd9")


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200
PE = b"MZ\x90\x00" + b"\x00" * 56 + b"\x40\x00\x00\x00" + b"PE\x00\x00" + b"\x00" * 200
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


class CountingStream:
    """A file-like upload backed by a generator, counting what the reader took."""

    def __init__(self, total: int, chunk: int = 1024 * 1024, head: bytes = b""):
        self.read_bytes = 0
        self._parts = self._generate(total, chunk, head)
        self._buffer = b""

    @staticmethod
    def _generate(total, chunk, head):
        yield head
        sent = len(head)
        while sent < total:
            n = min(chunk, total - sent)
            sent += n
            yield b"A" * n

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            part = next(self._parts, None)
            if part is None:
                break
            self._buffer += part
        out, self._buffer = (self._buffer, b"") if size < 0 else (self._buffer[:size], self._buffer[size:])
        self.read_bytes += len(out)
        return out

    def tell(self) -> int:
        return self.read_bytes
