"""Where the portal's own HTTP requests may go (signed webhooks to recipients, DRP status callbacks
to agents), and the one POST both channels send.

A receiver's address is the business's or an agent's to choose, so it could name the portal's own
network: the metadata service, a database's HTTP port, an admin page on loopback. Refused:
loopback, private, link-local, multicast, reserved, unspecified and every other non-global address,
IPv4 and IPv6, and IPv6 addresses that carry such an IPv4 address (mapped, 6to4, Teredo, NAT64).

- When an address is saved (`url_problem`): a host that is an address literal, in any spelling the
  HTTP client would accept (`127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1`, `[::ffff:127.0.0.1]`),
  or a name that is always local (`localhost`, `*.localhost`), is refused with a clear message.
- When a POST is sent (`post`): the host is resolved, every address it resolves to must be allowed,
  and the connection goes to the address that was checked (the Host header and TLS's server name
  carry the name; there is no second lookup a DNS answer could change in between).

Redirects are never followed (a 3xx is a failure), and what staff see of a failure is a short
reason (`Failed.reason`), never the raw error text. Hosts in OUTBOUND_ALLOW_HOSTS (`name` or
`name:port`, comma-separated) are exceptions to the address policy (a test receiver on loopback).
"""
import http.client
import ipaddress
import socket
import ssl
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

NOT_ALLOWED = "the receiver's address is not allowed"
NOT_ALLOWED_DETAIL = (NOT_ALLOWED + ": it is a loopback, private, link-local, multicast or reserved address "
                      "(list it in OUTBOUND_ALLOW_HOSTS if it must be reached)")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# IPv6 prefixes that carry an IPv4 address in their last 32 bits, routed by a gateway (RFC 6052).
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_READ_AT_MOST = 65536  # of an answer's body: read a little so the connection closes cleanly


class Failed(Exception):
    """One POST that did not deliver: `reason` is short and safe to show; `permanent` when sending
    again cannot help (an address not allowed, a redirect); `status` is the HTTP status if any."""

    def __init__(self, reason: str, *, permanent: bool = False, status: int | None = None):
        super().__init__(reason)
        self.reason, self.permanent, self.status = reason, permanent, status


# ---- addresses -------------------------------------------------------------------------------

def _ipv4_number(part: str) -> int | None:
    """One part of an IPv4 address as inet_aton reads it: 0x hex, leading-0 octal, or decimal."""
    try:
        if part[:2].lower() == "0x":
            return int(part[2:], 16) if part[2:] else None
        if len(part) > 1 and part[0] == "0":
            return int(part[1:], 8)
        return int(part, 10) if part.isdigit() else None
    except ValueError:
        return None


def _ipv4_any_form(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address `host` names in any form the C library's resolver accepts (inet_aton):
    one to four parts, each decimal, octal or hex, the last filling the remaining bytes."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(p and p.isascii() and p.isalnum() for p in parts):
        return None
    numbers = [_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(parts)):
        return None
    value = 0
    for n in leading:
        value = value * 256 + n
    return ipaddress.IPv4Address(value * 256 ** (5 - len(parts)) + last)


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a URL's host names literally (IPv6 with or without brackets and zone, IPv4 in
    any inet_aton spelling), or None for a name."""
    host = host.strip("[]")
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return None
    return _ipv4_any_form(host)


def address_allowed(address) -> bool:
    """A global unicast address, and (for IPv6) no non-global IPv4 address inside it."""
    address = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(address, ipaddress.IPv6Address):
        inner = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
        if any(address in net for net in _NAT64):
            inner.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if any(a is not None and not address_allowed(a) for a in inner):
            return False
        if address.is_site_local:
            return False
    return address.is_global and not (address.is_loopback or address.is_private or address.is_link_local
                                      or address.is_multicast or address.is_reserved or address.is_unspecified)


def _normal_host(host: str) -> str:
    return unicodedata.normalize("NFKC", host).lower().rstrip(".")


def parse_allow_list(value) -> list[tuple[str, int | None]]:
    """OUTBOUND_ALLOW_HOSTS (a comma-separated string or a list) as (host, port or None) pairs."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    allowed = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        if item.startswith("["):  # [::1] or [::1]:8080
            host, _sep, rest = item[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else ""
        elif item.count(":") == 1:
            host, port = item.split(":")
        else:  # a name, an IPv4 address, or a bare IPv6 address
            host, port = item, ""
        allowed.append((_normal_host(host), int(port) if port.isdigit() else None))
    return allowed


def _listed(host: str, port: int, allow_hosts) -> bool:
    host = _normal_host(host)
    address = literal_address(host)
    for entry, entry_port in parse_allow_list(allow_hosts):
        same = entry == host or (address is not None and literal_address(entry) == address)
        if same and entry_port in (None, port):
            return True
    return False


def _port(parts) -> int:
    return parts.port or _DEFAULT_PORTS.get(parts.scheme, 443)


def url_problem(url: str, *, allow_http: bool, allow_hosts=(), what: str = "the address") -> str | None:
    """Why `url` cannot receive the portal's POSTs, or None: https (http only where allowed), a
    host and no credentials, and a host that is not a refused address literal or local name."""
    try:
        parts = urlsplit(url)
        port = _port(parts)
    except ValueError:
        return "not a URL"
    if parts.scheme not in (("https", "http") if allow_http else ("https",)):
        return f"{what} must start with https://"
    host = parts.hostname
    if not host or parts.username or parts.password:
        return f"{what} needs a host name and no user name or password"
    if any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in host):
        return "not a URL"
    if _listed(host, port, allow_hosts):
        return None
    address = literal_address(host)
    name = _normal_host(host)
    if (address is not None and not address_allowed(address)) or name in _LOCAL_NAMES \
            or name.endswith(".localhost"):
        return NOT_ALLOWED_DETAIL
    return None


def resolve(host: str, port: int, *, allow_hosts=()) -> list[str]:
    """The addresses `host` resolves to now, every one of them allowed (else Failed, permanent)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        raise Failed("the receiver's name could not be resolved") from None
    addresses = list(dict.fromkeys(info[4][0] for info in found))
    if not addresses:
        raise Failed("the receiver's name could not be resolved")
    if not _listed(host, port, allow_hosts):
        for address in addresses:
            if not address_allowed(ipaddress.ip_address(address.split("%", 1)[0])):
                raise Failed(NOT_ALLOWED, permanent=True)
    return addresses


# ---- the POST --------------------------------------------------------------------------------

class _PinnedHTTP(http.client.HTTPConnection):
    """A connection to `address` for the host name the URL gave (Host header from the name)."""

    def __init__(self, host, port, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """The same over TLS: the server name (SNI) and the certificate check use the host name."""

    def __init__(self, host, port, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass(frozen=True)
class Answer:
    status: int


def post(url: str, body: bytes, *, headers: dict, timeout: float, allow_hosts=()) -> Answer:
    """POST `body` to `url`, connecting only to an allowed address; the answer when it is 2xx,
    Failed (with a short reason) for anything else, a redirect included."""
    try:
        parts = urlsplit(url)
        port = _port(parts)
    except ValueError:
        raise Failed("the receiver's address is not a usable URL", permanent=True) from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise Failed("the receiver's address is not a usable URL", permanent=True)
    addresses = resolve(parts.hostname, port, allow_hosts=allow_hosts)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    failure = Failed("could not connect to the receiver")
    for address in addresses:  # as create_connection does: the next address when one cannot be reached
        conn = kind(parts.hostname, port, address=address, timeout=timeout)
        try:
            try:
                conn.connect()
            except ssl.SSLError:
                raise Failed("the receiver's TLS certificate or handshake was not accepted") from None
            except TimeoutError:
                failure = Failed("timed out")
                continue
            except ConnectionRefusedError:
                failure = Failed("the receiver refused the connection")
                continue
            except OSError:
                failure = Failed("could not connect to the receiver")
                continue
            try:  # sent: no other address is tried, the outbox retries with the same idempotency key
                conn.request("POST", target, body=body, headers=headers)
                response = conn.getresponse()
                response.read(_READ_AT_MOST)
            except TimeoutError:
                raise Failed("timed out") from None
            except (http.client.HTTPException, OSError):
                raise Failed("the connection to the receiver failed") from None
        finally:
            conn.close()
        if 200 <= response.status < 300:
            return Answer(response.status)
        raise Failed(f"the receiver answered {response.status}", permanent=300 <= response.status < 400,
                     status=response.status)
    raise failure
