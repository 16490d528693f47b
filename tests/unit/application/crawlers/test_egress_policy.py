"""The egress policy: which addresses crawlers may reach, decided on every resolved address, DNS faked."""

from __future__ import annotations

import ipaddress

import pytest

from llm_engineering.application.crawlers.crawl_run import check_link_egress
from llm_engineering.application.crawlers.egress import literal_address, non_public_reason
from llm_engineering.application.crawlers.github import repository_access
from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.exceptions import CrawlError
from tests.fixtures.egress import PUBLIC_ADDRESS, TableResolver, table_policy

# Every form the probe used, and the other ways to spell a non-public address.
REFUSED_URLS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://[::ffff:169.254.169.254]/",
    "http://2852039166/",  # 169.254.169.254 as one decimal number
    "http://0x7f000001/",  # 127.0.0.1 in hex
    "http://0177.0.0.1/",  # 127.0.0.1 in octal
    "http://127.1/",  # 127.0.0.1, short form
    "http://[::1]:8000/",
    "http://[::]/",
    "http://0.0.0.0:8000/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://172.16.5.4/",
    "http://192.168.1.1/admin",
    "http://224.0.0.251/",  # multicast
    "http://240.0.0.1/",  # reserved
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[::127.0.0.1]/",  # IPv4-compatible IPv6
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://[2002:a9fe:a9fe::1]/",  # 6to4 of 169.254.169.254
    "http://localhost:8000/",
    "http://api.localhost/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://intranet/",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_non_public_targets_are_refused_before_any_connection(url):
    policy = table_policy()
    with pytest.raises(CrawlError) as caught:
        policy.check_url(url)
    assert caught.value.kind is CrawlErrorKind.FORBIDDEN_ADDRESS
    assert "CRAWL_ALLOW_PRIVATE_NETWORKS" in caught.value.reason


def test_numeric_forms_are_read_as_the_addresses_they_spell_without_dns():
    policy = table_policy()
    for host, expected in [("2852039166", "169.254.169.254"), ("0x7f000001", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1")]:
        assert literal_address(host) == ipaddress.ip_address(expected)
        with pytest.raises(CrawlError):
            policy.check_url(f"http://{host}/")
    assert policy.resolver.asked == []  # type: ignore[attr-defined]
    assert literal_address("example.com") is None and literal_address("1.example") is None


def test_a_name_is_refused_when_any_of_its_addresses_is_private():
    policy = table_policy(rebind_example=[PUBLIC_ADDRESS, "10.1.2.3"], metadata_example=["169.254.169.254"])
    for url in ("https://rebind.example/post", "http://metadata.example/latest/"):
        with pytest.raises(CrawlError) as caught:
            policy.check_url(url)
        assert caught.value.kind is CrawlErrorKind.FORBIDDEN_ADDRESS


def test_public_names_pass_with_their_checked_addresses():
    policy = table_policy(blog_example=[PUBLIC_ADDRESS, "2606:2800:220:1:248:1893:25c8:1946"])
    target = policy.check_url("https://Blog.Example/a?b=1")
    assert target.host == "blog.example" and target.port == 443 and target.scheme == "https"
    assert [str(address) for address in target.addresses] == [PUBLIC_ADDRESS, "2606:2800:220:1:248:1893:25c8:1946"]
    assert policy.check_url("http://blog.example:8080/").port == 8080


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://files.example/a", "gopher://x.example/", "javascript:1"])
def test_only_http_and_https_are_crawled(url):
    with pytest.raises(CrawlError) as caught:
        table_policy().check_url(url)
    assert caught.value.kind in (CrawlErrorKind.UNSUPPORTED_SCHEME, CrawlErrorKind.MALFORMED_URL)


def test_dns_failure_is_reported_as_such():
    policy = table_policy()
    policy.resolver.default = None  # type: ignore[attr-defined]
    with pytest.raises(CrawlError) as caught:
        policy.check_url("https://nowhere.example/")
    assert caught.value.kind is CrawlErrorKind.DNS_FAILURE


def test_allow_private_opens_loopback_and_private_ranges_but_never_metadata_or_multicast():
    policy = table_policy(allow_private=True, wiki_corp=["10.0.0.7"])
    for url in (
        "http://127.0.0.1:8000/",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://localhost/",
        "http://wiki.corp/",
    ):
        policy.check_url(url)
    for url in (
        "http://169.254.169.254/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
        "http://[::ffff:169.254.169.254]/",
    ):
        with pytest.raises(CrawlError) as caught:
            policy.check_url(url)
        assert caught.value.kind is CrawlErrorKind.FORBIDDEN_ADDRESS


@pytest.mark.parametrize(
    ("address", "word"),
    [
        ("169.254.169.254", "link-local"),
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("100.64.0.1", "carrier-grade"),
        ("::ffff:10.0.0.1", "inside the IPv6"),
        ("64:ff9b::7f00:1", "loopback"),
        ("ff02::1", "multicast"),
    ],
)
def test_reasons_name_the_range(address, word):
    reason = non_public_reason(ipaddress.ip_address(address))
    assert reason is not None and word in reason


def test_global_addresses_have_no_reason():
    for address in (PUBLIC_ADDRESS, "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"):
        assert non_public_reason(ipaddress.ip_address(address)) is None


def test_local_repositories_need_private_access():
    with pytest.raises(CrawlError) as caught:
        check_link_egress("/home/me/repo", table_policy())
    assert caught.value.kind is CrawlErrorKind.FORBIDDEN_ADDRESS
    with pytest.raises(CrawlError):
        check_link_egress("file:///etc", table_policy())
    check_link_egress("/home/me/repo", table_policy(allow_private=True))


@pytest.mark.parametrize(
    "link",
    [
        "file:///home/me/repo",
        "/srv/git/repo",
        "https://gitlab.example/me/repo",
        "http://github.com/me/repo",
        "https://github.com.evil.example/me/repo",
        "https://github.com@evil.example/me/repo",
        "https://github.com/me/repo/tree/main",
        "ssh://git@github.com/me/repo",
        "ext::sh -c touch% /tmp/pwned",
    ],
)
def test_github_crawler_clones_only_public_github_repositories_by_default(link):
    for egress in (None, table_policy()):
        with pytest.raises(CrawlError) as caught:
            repository_access(link, egress)
        assert caught.value.kind is CrawlErrorKind.FORBIDDEN_ADDRESS


def test_github_clone_is_pinned_to_the_checked_address_and_other_protocols_are_off():
    resolver = TableResolver({"github.com": ["140.82.121.4"]})
    from llm_engineering.application.crawlers.egress import EgressPolicy

    options = repository_access("https://github.com/iusztinpaul/energy-forecasting", EgressPolicy(resolver=resolver))
    settings = options[1::2]
    assert "http.curloptResolve=github.com:443:140.82.121.4" in settings
    assert "protocol.allow=never" in settings and "protocol.https.allow=always" in settings
    assert "http.followRedirects=false" in settings
    assert resolver.asked == ["github.com"]


def test_private_access_allows_local_and_intranet_repositories_still_pinned():
    policy = table_policy(allow_private=True, git_corp=["10.0.0.9"])
    assert repository_access("/srv/git/repo", policy) == []
    assert repository_access("file:///srv/git/repo", policy) == []
    options = repository_access("https://git.corp/team/repo.git", policy)
    assert "http.curloptResolve=git.corp:443:10.0.0.9" in options
    with pytest.raises(CrawlError):
        repository_access("http://169.254.169.254/repo.git", policy)
