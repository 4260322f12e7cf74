"""What an uploaded PDF may contain, checked in a child process with limits, and the file rewritten.

The child (`python -I pdf_checks.py MAX_OBJECTS SECONDS MEMORY_MB`, the PDF on stdin) sets its own
address-space and CPU limits first, then: refuses bytes after the last %%EOF; counts the object
headers in the bytes and refuses more than MAX_OBJECTS before qpdf builds anything; opens the file
with pikepdf (qpdf), counts the cross-reference entries, and refuses an object defined in the body
that the cross-reference table does not list (a viewer reading another table, as pdf.js reads the
first-page table of a linearized file, could find it); walks every object for active content, with
a deadline; refuses a file that is also a ZIP archive; and writes the file again with qpdf from the
objects it checked: one cross-reference table, no incremental update, no linearization, nothing
after %%EOF. The answer on stdout is `ok` and the rewritten file, or `refused CODE DETAIL`.

What is stored and served is that rewritten file, so every viewer sees the objects that were
checked, whichever table it reads. Names are compared after qpdf has undone their #xx escapes and
every stream filter is decoded by qpdf itself, so the encoding of a file cannot hide what it does.

This file imports nothing from the portal: it runs as a script of its own.
"""
import io
import re
import resource
import sys
import time
import zipfile

import pikepdf

# qpdf decodes without limit by default: a 10 MB Flate bomb would expand to 10 GB.
_DECODE_LIMIT = 64 * 1024 * 1024
# All the streams of one file together: a file of many small bombs stops here.
_DECODE_BUDGET = 256 * 1024 * 1024
pikepdf.settings.set_qpdf_limits(flate_max_memory=_DECODE_LIMIT, run_length_max_memory=_DECODE_LIMIT,
                                 png_max_memory=_DECODE_LIMIT, tiff_max_memory=_DECODE_LIMIT)

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
# What a link (a URI action, or the catalog's base URI) may point to: web pages, mail and phone
# numbers. `javascript:` runs in some viewers, `file:` and UNC paths open local or network files,
# and Windows registers schemes that start programs.
LINK_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
# Browsers and viewers drop these anywhere in a URL before reading its scheme ("java\tscript:").
_URL_IGNORED = re.compile(r"[\x00-\x20\x7f]")

# "N G obj" as a tokenizer sees it: not inside a longer token on either side.
_DELIMITED = rb"\x00\t\n\f\r ()<>\[\]{}/%"
_OBJECT_HEADER = re.compile(rb"(?<![^" + _DELIMITED + rb"])(\d{1,10})[\x00\t\n\f\r ]+(\d{1,5})[\x00\t\n\f\r ]+obj"
                            rb"(?![^" + _DELIMITED + rb"])")
_TRAILING_ALLOWED = re.compile(rb"[\s\x00]*\Z")
# How many objects the walk visits between two looks at the clock.
_CLOCK_EVERY = 2048


class Refused(Exception):
    """The file is not accepted; `code` is damaged | active_content | encrypted | too_complex."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def check_and_rewrite(data: bytes, *, max_objects: int, deadline: float) -> bytes:
    """The file as qpdf writes it from the objects checked; Refused unless every check passes.
    `deadline` is a time.monotonic() value: the check gives up (too_complex) once it has passed."""
    end = data.rfind(b"%%EOF")
    if end < 0 or not _TRAILING_ALLOWED.match(data, end + 5):
        raise Refused("damaged", "data after the last %%EOF")
    headers = {int(number) for number, _generation in _OBJECT_HEADER.findall(data)}
    if len(headers) > max_objects:
        raise Refused("too_complex", f"{len(headers)} object headers")
    if is_zip(data):
        raise Refused("active_content", "also a ZIP archive")
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError as exc:
        raise Refused("encrypted", "password required") from exc
    except (pikepdf.PdfError, ValueError, RuntimeError) as exc:
        raise Refused("damaged", type(exc).__name__) from exc
    with pdf:
        try:
            listed = {number for number, _generation in pdf.get_xref_table()}
            if len(listed) > max_objects:
                raise Refused("too_complex", f"{len(listed)} objects")
            _check_time(deadline)
            hidden = headers - listed
            if hidden:
                # Defined in the body but in no table qpdf read: another reader may be sent to it.
                raise Refused("damaged", f"{len(hidden)} objects outside the cross-reference table")
            _check_time(deadline)
            found = active_content(pdf, deadline)
            if found:
                raise Refused("active_content", found)
            out = io.BytesIO()
            # Streams keep their encoding (compress_streams=False: an uncompressed page stays as it
            # came); the /ID is derived from the content, so the same upload is rewritten the same way.
            pdf.save(out, linearize=False, object_stream_mode=pikepdf.ObjectStreamMode.preserve,
                     compress_streams=False, normalize_content=False, qdf=False, fix_metadata_version=False,
                     preserve_pdfa=False, deterministic_id=True)
        except (pikepdf.PdfError, ValueError, RuntimeError, RecursionError, TypeError, KeyError) as exc:
            raise Refused("damaged", type(exc).__name__) from exc
    rewritten = out.getvalue()
    if is_zip(rewritten):  # a ZIP kept in a stream qpdf copies as it is (an image's data)
        raise Refused("active_content", "a ZIP archive inside")
    return rewritten


def is_zip(data: bytes) -> bool:
    """Whether a ZIP reader finds an archive with at least one member (it reads from the end)."""
    if b"PK\x05\x06" not in data[-(65536 + 22):]:
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return bool(archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError,
            IndexError, KeyError, OverflowError):
        return False


def _check_time(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise Refused("too_complex", "time")


def active_content(pdf: pikepdf.Pdf, deadline: float) -> str | None:
    """The first active name, automatic action or unsafe link found in any object, or None."""
    budget = _DECODE_BUDGET
    # Every indirect object is in pdf.objects (qpdf lists what the cross-reference table, or the
    # table it rebuilt, names, object streams included), so the walk descends into direct
    # children only and visits each object once.
    stack = list(pdf.objects) + [pdf.trailer]
    visited = 0
    while stack:
        visited += 1
        if visited % _CLOCK_EVERY == 0:
            _check_time(deadline)
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
                if key in ("/URI", "/Base") and isinstance(value, pikepdf.String) and not safe_link(bytes(value)):
                    return f"link target {key}"
                _push_direct(stack, value)
        elif isinstance(obj, pikepdf.Array):
            for item in obj:
                _push_direct(stack, item)
    return None


def safe_link(target: bytes) -> bool:
    """A link to a web page, a mail address or a phone number: an allowed scheme, read as viewers
    read it (control characters and spaces dropped, any case)."""
    text = _URL_IGNORED.sub("", target.decode("latin-1")).lower()
    scheme = _SCHEME.match(text)
    return bool(scheme) and scheme.group(1) in LINK_SCHEMES


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


def _near(limit: int) -> bool:
    """Whether this process's address space came within a tenth of `limit` (Linux's VmPeak)."""
    try:
        with open("/proc/self/status", "rb") as status:
            peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith(b"VmPeak:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return False
    return peak >= 0.9 * limit


def main(argv: list[str]) -> int:
    """The child: limits first, then the check; one answer on stdout."""
    max_objects, seconds, memory_mb = int(argv[0]), float(argv[1]), int(argv[2])
    started = time.monotonic()
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU past the soft limit ends the child
    out = sys.stdout.buffer
    try:
        data = sys.stdin.buffer.read()
        rewritten = check_and_rewrite(data, max_objects=max_objects, deadline=started + seconds)
    except Refused as refused:
        if refused.code == "damaged" and _near(memory):
            # qpdf turns a failed allocation into a damaged-file error: what ran out was memory.
            refused = Refused("too_complex", "memory")
        out.write(f"refused {refused.code} {refused.detail}\n".encode("ascii", "replace"))
        return 0
    except MemoryError:
        out.write(b"refused too_complex memory\n")
        return 0
    out.write(b"ok\n")
    out.write(rewritten)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
