"""Where webhooks and DRP callbacks may go: every spelling of an address on the portal's own network
is refused when it is saved, and every address a name resolves to is checked when a POST is sent."""
import ipaddress
import socket

import pytest

from portal.services.delivery import outbound

# Hosts the HTTP client would reach on loopback, the local network or the cloud's metadata service.
REFUSED = [
    "127.0.0.1", "127.0.0.2", "[::1]", "localhost", "LOCALHOST.", "api.localhost", "0.0.0.0", "0", "[::]",
    "2130706433", "0x7f000001", "0X7F000001", "0x7f.1", "0177.0.0.1", "0177.0.0.01", "127.1", "127.0.1",
    "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[0:0:0:0:0:ffff:127.0.0.1]", "[::127.0.0.1]",
    "169.254.169.254", "2852039166", "[fe80::1%25eth0]", "10.0.0.1", "012.0.0.1", "172.16.0.1", "192.168.1.1",
    "100.64.0.1", "192.0.2.1", "198.18.0.1", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
    "[fc00::1]", "[fd12:3456::1]", "[fec0::1]", "[ff02::1]", "[2002:7f00:1::]", "[64:ff9b::a00:1]",
    "[64:ff9b::7f00:1]", "[2001:0:4136:e378:8000:63bf:3fff:fdd2]", "ｌｏｃａｌｈｏｓｔ",
]


@pytest.mark.parametrize("host", REFUSED)
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_every_spelling_of_a_local_address_is_refused_when_saved(host, scheme):
    problem = outbound.url_problem(f"{scheme}://{host}:8443/hook", allow_http=True)
    assert problem == outbound.NOT_ALLOWED_DETAIL
    assert "not allowed" in problem and "OUTBOUND_ALLOW_HOSTS" in problem


@pytest.mark.parametrize("url", ["https://hooks.example.org/privacy", "https://93.184.216.34/in",
                                 "https://[2606:4700:4700::1111]/in", "http://8.8.8.8:8080/cb",
                                 "https://localhost-hooks.example.org/", "https://127.example.org/"])
def test_public_addresses_and_names_are_accepted_when_saved(url):
    assert outbound.url_problem(url, allow_http=True) is None


def test_https_is_required_unless_http_is_allowed():
    assert outbound.url_problem("http://hooks.example.org/", allow_http=False) == "the address must start with https://"
    assert outbound.url_problem("https://user:pw@hooks.example.org/", allow_http=False).startswith("the address needs")


# Spellings the C library's inet_aton accepts, and some it does not: the portal reads each the same way.
SPELLINGS = ["127.0.0.1", "2130706433", "0x7f000001", "0x7f.0x0.0x0.0x1", "0177.0.0.1", "127.1", "127.0.1",
             "0", "0x", "017700000001", "4294967295", "4294967296", "256.0.0.1", "1.2.3.4.5", "08.0.0.1",
             "0x1g.0.0.1", "1..1", "1.2.3.", "example.org", "127.0.0.1x", "1.256.1", "1.2.65535", "1.2.65536"]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_ipv4_literals_are_read_as_the_c_library_reads_them(spelling):
    try:
        expected = ipaddress.IPv4Address(socket.inet_aton(spelling))
    except OSError:
        expected = None
    assert outbound.literal_address(spelling) == expected


def test_the_allow_list_names_hosts_and_ports_and_knows_an_address_by_any_spelling():
    allow = "127.0.0.1, receiver.test:8080, [::1]:9000"
    for url in ("http://127.0.0.1:5000/cb", "http://2130706433:5000/cb", "http://receiver.test:8080/",
                "http://[::1]:9000/"):
        assert outbound.url_problem(url, allow_http=True, allow_hosts=allow) is None, url
    for url in ("http://localhost:5000/", "http://[::1]:9001/", "http://127.0.0.2/"):
        assert outbound.url_problem(url, allow_http=True, allow_hosts=allow) == outbound.NOT_ALLOWED_DETAIL, url
    assert outbound.parse_allow_list(["Receiver.Test.", "[::1]"]) == [("receiver.test", None), ("::1", None)]


def _resolver(monkeypatch, answers: dict[str, list[str]]):
    calls = []

    def getaddrinfo(host, port, *args, **kwargs):
        calls.append(host)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "unknown")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in answers[host]]
    monkeypatch.setattr(outbound.socket, "getaddrinfo", getaddrinfo)
    return calls


def test_a_name_is_refused_at_send_time_if_any_address_it_resolves_to_is_local(monkeypatch):
    _resolver(monkeypatch, {"hooks.example.org": ["93.184.216.34", "10.1.2.3"], "v6.example.org": ["::ffff:10.0.0.1"],
                            "fine.example.org": ["93.184.216.34", "2606:4700:4700::1111"]})
    for host in ("hooks.example.org", "v6.example.org"):
        with pytest.raises(outbound.Failed) as info:
            outbound.resolve(host, 443)
        assert (info.value.reason, info.value.permanent) == (outbound.NOT_ALLOWED, True)
    assert outbound.resolve("fine.example.org", 443) == ["93.184.216.34", "2606:4700:4700::1111"]
    with pytest.raises(outbound.Failed) as info:
        outbound.post("https://nowhere.example.org/", b"{}", headers={}, timeout=1)
    assert (info.value.reason, info.value.permanent) == ("the receiver's name could not be resolved", False)


def test_a_listed_host_may_resolve_to_loopback(monkeypatch):
    _resolver(monkeypatch, {"receiver.test": ["127.0.0.1"]})
    assert outbound.resolve("receiver.test", 8080, allow_hosts=["receiver.test:8080"]) == ["127.0.0.1"]
    with pytest.raises(outbound.Failed):
        outbound.resolve("receiver.test", 8081, allow_hosts=["receiver.test:8080"])


def test_a_url_the_client_cannot_use_fails_for_good_without_a_lookup(monkeypatch):
    calls = _resolver(monkeypatch, {})
    for url in ("ftp://hooks.example.org/", "https:///nohost", "https://hooks.example.org:99999/"):
        with pytest.raises(outbound.Failed) as info:
            outbound.post(url, b"{}", headers={}, timeout=1)
        assert info.value.permanent and "not a usable URL" in info.value.reason
    assert calls == []
