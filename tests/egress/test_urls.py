"""The strict URL parser: everything two HTTP parsers could read differently is refused."""

import pytest

from egress import EgressRefused, parse_url


@pytest.mark.parametrize(
    "url",
    [
        # backslashes: requests/urllib3 end the host there, urlsplit keeps it in the userinfo
        "http://127.0.0.1:18999\\@127.0.0.1:8765/x",
        "http://127.0.0.1:8765\\x/a.wav",
        "http:\\\\127.0.0.1/x",
        "http://127.0.0.1/a\\b",
        # userinfo
        "http://user@127.0.0.1:8765/x",
        "http://user:pw@cdn1.suno.ai/x",
        "http://@cdn1.suno.ai/x",
        "http://cdn1.suno.ai@127.0.0.1/x",
        # whitespace and control characters, anywhere
        "http://127.0.0.1\x00.evil/a.wav",
        "http://cdn1.suno.ai\t/x",
        "http://cdn1.suno.ai/x\r\nHost: evil",
        "http://cdn1 .suno.ai/x",
        "http://cdn1.suno.ai/a b",
        " http://cdn1.suno.ai/x",
        "http://cdn1.suno.ai/x\x7f",
        # IPv6: zone ids, junk, bad literals
        "http://[fe80::1%25eth0]/x",
        "http://[fe80::1%eth0]/x",
        "http://[::1]x/",
        "http://[::1/",
        "http://[127.0.0.1]/",
        "http://[v1.fe]/",
        # IPv4 in any spelling but canonical dotted decimal
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://0x7f.0.0.1/",
        "http://127.1/",
        "http://127.0.1/",
        "http://127.000.000.001/",
        "http://127.0.0.01/",
        "http://256.0.0.1/",
        "http://127.0.0.1./",
        "http://1.2.3.4.5/",
        "http://cdn1.suno.0x10/",
        "http://evil.123/",
        # hosts
        "http:///x",
        "http://:80/x",
        "http://cdn1..suno.ai/",
        "http://-cdn1.suno.ai/",
        "http://cdn1.suno.ai%2f@evil/",
        "http://127.0.0.1%2f/",
        "http://xn--zz/",
        "http://a" + "b" * 64 + ".com/",
        "http://\u2764\ufe0f\u200d.com/",  # not IDNA-encodable (joiner)
        # ports
        "http://cdn1.suno.ai:0/",
        "http://cdn1.suno.ai:65536/",
        "http://cdn1.suno.ai:+80/",
        "http://cdn1.suno.ai:/",
        "http://cdn1.suno.ai:80:81/",
        # schemes
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "ftp://cdn1.suno.ai/x",
        "//cdn1.suno.ai/x",
        "/relative",
        "",
    ],
)
def test_ambiguous_urls_are_refused(url):
    with pytest.raises(EgressRefused):
        parse_url(url)


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://CDN1.Suno.AI/A.mp3", "https://cdn1.suno.ai/A.mp3"),
        ("https://cdn1.suno.ai./a.mp3", "https://cdn1.suno.ai/a.mp3"),
        ("https://cdn1.suno.ai:443/a.mp3?sig=1#frag", "https://cdn1.suno.ai/a.mp3?sig=1"),
        ("https://cdn1.suno.ai", "https://cdn1.suno.ai/"),
        ("https://b\u00fccher.de/x", "https://xn--bcher-kva.de/x"),
        ("https://B\u00dcCHER.de/x", "https://xn--bcher-kva.de/x"),
        ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", "http://127.0.0.1/"),  # full-width
        ("http://[0:0:0:0:0:0:0:1]:8080/x", "http://[::1]:8080/x"),
        ("http://[::FFFF:7f00:1]/", "http://[::ffff:7f00:1]/"),
        ("http://127.0.0.1:8765/a/../b?q=\u00e9", "http://127.0.0.1:8765/a/../b?q=%C3%A9"),
        ("http://0.0.0.0/", "http://0.0.0.0/"),
    ],
)
def test_accepted_urls_have_one_canonical_form(url, canonical):
    assert str(parse_url(url)) == canonical


def test_a_literal_address_is_known_without_dns():
    assert str(parse_url("http://[::1]/").ip) == "::1"
    assert str(parse_url("http://10.0.0.1/").ip) == "10.0.0.1"
    assert parse_url("https://cdn1.suno.ai/").ip is None


def test_the_redacted_form_drops_the_query():
    assert parse_url("https://cdn1.suno.ai/a.mp3?token=s3cret").redacted() == (
        "https://cdn1.suno.ai/a.mp3"
    )
