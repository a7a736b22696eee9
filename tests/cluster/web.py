"""A browser of sorts for the cluster tests: cookies, CSRF, and a chosen source address.

Every request is a new connection from ``source`` (any 127.x address is this
machine's loopback), so HAProxy sees that address and the tests can tell the
client's address apart from HAProxy's own (127.0.0.1).
"""

from __future__ import annotations

import html
import http.client
import re
import urllib.parse
from dataclasses import dataclass


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    text: str

    @property
    def server(self) -> str:
        """The instance HAProxy sent the request to ("" when it did not pass HAProxy)."""
        return self.headers.get("X-Crm-Server", "")

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    def words(self) -> str:
        return html.unescape(re.sub(r"<[^>]+>", " ", self.text))


class Client:
    def __init__(self, base: str, source: str | None = None):
        self.base = base
        self.source = source
        self.cookies: dict[str, str] = {}

    def request(self, method, path, data=None, headers=None, base=None) -> Response:
        host, port = (base or self.base).removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(
            host,
            int(port),
            timeout=60,
            source_address=(self.source, 0) if self.source else None,
        )
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _sep, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value and "Expires=Thu, 01 Jan 1970" not in header:
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        return Response(response.status, response.headers, text)

    def get(self, path, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path, data, **kwargs) -> Response:
        return self.request("POST", path, data=data, **kwargs)

    def form(self, path, base=None) -> tuple[Response, dict]:
        """A page with a form, and the values of its hidden inputs (CSRF token, version)."""
        page = self.get(path, base=base)
        hidden = dict(
            re.findall(r'<input id="\w+" name="(\w+)" type="hidden" value="([^"]*)">', page.text)
        )
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        if token:
            hidden["csrf_token"] = token.group(1)
        return page, hidden

    def sign_in(self, username, password, base=None) -> Response:
        """The answer to the sign-in POST (a redirect whether it worked or not)."""
        _page, hidden = self.form("/login/", base=base)
        return self.post(
            "/login/",
            {"username": username, "password": password, "csrf_token": hidden["csrf_token"]},
            base=base,
        )

    def signed_in(self, base=None) -> bool:
        """Flask-AppBuilder sends a signed-in user away from the sign-in page."""
        return self.get("/login/", base=base).status == 302
