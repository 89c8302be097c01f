"""The policy: allow-list semantics, public addresses only, DNS asked once, every answer checked."""

import pytest

from egress import EgressPolicy, EgressRefused, EgressUnavailable, HostRule
from tests.egress.conftest import ScriptedResolver

PUBLIC = "93.184.215.14"
PUBLIC6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


def media_policy(answers, **kwargs):
    resolver = ScriptedResolver(answers)
    hosts = ["cdn1.suno.ai", "http://127.0.0.1:8765"]
    return EgressPolicy(hosts, resolver=resolver, **kwargs), resolver


def test_a_listed_name_with_public_answers_is_pinned_to_them():
    policy, resolver = media_policy({"cdn1.suno.ai": [[PUBLIC, PUBLIC6]]})
    target = policy.check("https://cdn1.suno.ai/a.mp3")
    assert target.addresses == (PUBLIC, PUBLIC6)
    assert resolver.calls == [("cdn1.suno.ai", 443)]


@pytest.mark.parametrize(
    "private",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address to refuse, not to bind
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "fe80::1",
        "fc00::1",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::1",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo whose client is 127.0.0.1
    ],
)
def test_every_answer_must_be_public(private):
    policy, _ = media_policy({"cdn1.suno.ai": [[PUBLIC, private]]})
    with pytest.raises(EgressRefused, match="non-public"):
        policy.check("https://cdn1.suno.ai/a.mp3")


def test_dns_answers_that_change_between_checks_are_each_checked_and_pinned():
    policy, resolver = media_policy({"cdn1.suno.ai": [[PUBLIC], ["127.0.0.1"]]})
    assert policy.check("https://cdn1.suno.ai/a.mp3").addresses == (PUBLIC,)
    with pytest.raises(EgressRefused, match="non-public"):
        policy.check("https://cdn1.suno.ai/a.mp3")
    assert len(resolver.calls) == 2  # once per check, never again behind its back


def test_a_plain_listing_is_https_only():
    policy, _ = media_policy({"cdn1.suno.ai": [[PUBLIC]]})
    with pytest.raises(EgressRefused, match="plain http"):
        policy.check("http://cdn1.suno.ai/a.mp3")


def test_an_explicit_listing_allows_http_and_private_for_that_port_only():
    policy, resolver = media_policy({})
    assert policy.check("http://127.0.0.1:8765/a").addresses == ("127.0.0.1",)
    assert resolver.calls == []  # a literal needs no DNS
    for url in ["http://127.0.0.1:8766/a", "http://127.0.0.1/a", "http://[::1]:8765/a"]:
        with pytest.raises(EgressRefused, match="not in"):
            policy.check(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn1.suno.ai.evil.com/x",
        "https://evil.com/cdn1.suno.ai",
        "https://xcdn1.suno.ai/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:7f00:1]:8765/x",
    ],
)
def test_unlisted_hosts_are_refused(url):
    policy, _ = media_policy({})
    with pytest.raises(EgressRefused):
        policy.check(url)


def test_a_listed_internationalised_name_matches_its_idna_form():
    resolver = ScriptedResolver({"xn--bcher-kva.example": [[PUBLIC]]})
    policy = EgressPolicy(["b\u00fccher.example"], resolver=resolver)
    assert policy.check("https://B\u00dcCHER.example./x").url.host == "xn--bcher-kva.example"
    assert resolver.calls == [("xn--bcher-kva.example", 443)]


def test_any_public_https_mode_for_webhooks():
    resolver = ScriptedResolver({"hooks.example": [[PUBLIC]], "intranet.example": [["10.0.0.8"]]})
    policy = EgressPolicy(["http://10.0.0.9:8080"], any_public_https=True, resolver=resolver)
    assert policy.check("https://hooks.example:8443/in").addresses == (PUBLIC,)
    assert policy.check("http://10.0.0.9:8080/in").explicit  # the operator allowed this one
    for url in ["http://hooks.example/in", "https://intranet.example/", "https://10.0.0.9/"]:
        with pytest.raises(EgressRefused):
            policy.check(url)


def test_dns_failure_is_transient_and_garbage_answers_are_refused():
    def failing(host, port):
        raise EgressUnavailable(f"cannot resolve {host}")

    with pytest.raises(EgressUnavailable):
        EgressPolicy(["cdn1.suno.ai"], resolver=failing).check("https://cdn1.suno.ai/")
    with pytest.raises(EgressUnavailable):
        EgressPolicy(["cdn1.suno.ai"], resolver=lambda h, p: []).check("https://cdn1.suno.ai/")
    with pytest.raises(EgressRefused):
        EgressPolicy(["cdn1.suno.ai"], resolver=lambda h, p: ["evil"]).check(
            "https://cdn1.suno.ai/"
        )


def test_the_system_resolver_is_used_by_default():
    with pytest.raises(EgressRefused, match="non-public"):
        EgressPolicy(["localhost"]).check("https://localhost/")


@pytest.mark.parametrize(
    "entry", ["http://a\\@b", "user@cdn1.suno.ai", "http://127.1:80", "http://x/path", "ftp://x"]
)
def test_bad_allow_list_entries_fail_loudly(entry):
    with pytest.raises(ValueError, match="invalid egress host entry"):
        HostRule.parse(entry)


def test_allow_list_entries_parse_like_urls():
    assert HostRule.parse(" CDN1.Suno.AI ") == HostRule("cdn1.suno.ai", None, explicit=False)
    assert HostRule.parse("cdn1.suno.ai:8443") == HostRule("cdn1.suno.ai", 8443, explicit=False)
    assert HostRule.parse("http://127.0.0.1:8765") == HostRule("127.0.0.1", 8765, explicit=True)
    assert HostRule.parse("https://[::1]") == HostRule("::1", 443, explicit=True)
