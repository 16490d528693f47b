"""The pinned httpx transport: every hop checked, the connection made to the checked address only.

The inner transports are `httpx.MockTransport`s that record what they were asked: nothing connects.
"""

from __future__ import annotations

import httpx
import pytest

from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.egress import PinnedTransport
from tests.fixtures.egress import PUBLIC_ADDRESS, TableResolver, table_policy


class Recorder:
    """Inner transports answering from `routes` (Host header -> response) and recording each request."""

    def __init__(self, routes: dict[str, httpx.Response]):
        self.routes = routes
        self.seen: list[httpx.Request] = []

    def factory(self) -> httpx.BaseTransport:
        return httpx.MockTransport(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return self.routes[request.headers["host"]]


def client(policy, recorder: Recorder) -> httpx.Client:
    return httpx.Client(transport=PinnedTransport(policy, recorder.factory), follow_redirects=True)


def test_requests_go_to_the_checked_address_with_the_original_host_and_sni():
    recorder = Recorder({"blog.example": httpx.Response(200, text="<p>hi</p>")})
    with client(table_policy(blog_example=[PUBLIC_ADDRESS]), recorder) as http:
        response = http.get("https://blog.example/post?id=1")
    assert response.status_code == 200 and str(response.url) == "https://blog.example/post?id=1"
    [sent] = recorder.seen
    assert str(sent.url) == f"https://{PUBLIC_ADDRESS}/post?id=1"
    assert sent.headers["host"] == "blog.example" and sent.extensions["sni_hostname"] == "blog.example"


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://[::ffff:169.254.169.254]/",
        "http://2852039166/",
        "http://127.0.0.1:8000/retrieve",
        "http://metadata.example/",
        "file:///etc/passwd",
    ],
)
def test_a_redirect_to_a_refused_target_is_stopped_before_connecting(location):
    recorder = Recorder({"blog.example": httpx.Response(302, headers={"Location": location})})
    policy = table_policy(blog_example=[PUBLIC_ADDRESS], metadata_example=["169.254.169.254"])
    with client(policy, recorder) as http, pytest.raises((CrawlError, httpx.UnsupportedProtocol)) as caught:
        http.get("https://blog.example/moved")
    assert len(recorder.seen) == 1  # only the first, public hop was sent anywhere
    if isinstance(caught.value, CrawlError):
        assert caught.value.kind in (CrawlErrorKind.FORBIDDEN_ADDRESS, CrawlErrorKind.UNSUPPORTED_SCHEME)


def test_a_second_dns_answer_cannot_switch_the_target():
    """DNS rebinding: the name is checked once per request and the request pinned to that answer."""

    class Rebinding(TableResolver):
        def resolve(self, host, port):
            addresses = super().resolve(host, port)
            self.table[host] = ["127.0.0.1"]  # every later lookup answers loopback
            return addresses

    from llm_engineering.application.crawlers.egress import EgressPolicy

    resolver = Rebinding({"rebind.example": [PUBLIC_ADDRESS]})
    recorder = Recorder({"rebind.example": httpx.Response(200, text="ok")})
    with client(EgressPolicy(resolver=resolver), recorder) as http:
        assert http.get("http://rebind.example/").status_code == 200
        with pytest.raises(CrawlError):
            http.get("http://rebind.example/again")  # the new answer is checked, and refused
    assert [str(request.url) for request in recorder.seen] == [f"http://{PUBLIC_ADDRESS}/"]
