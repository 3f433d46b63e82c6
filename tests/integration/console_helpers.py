"""Clients for the console and the web chat over plain HTTP, for tests against a running stack."""
from __future__ import annotations

import re

import httpx


def cookies_of(response: httpx.Response) -> dict[str, str]:
    """Set-Cookie values, read by hand: the console's cookies are Secure and httpx keeps those for https only."""
    found = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        found[name.strip()] = rest.split(";", 1)[0]
    return found


class ConsoleUser:
    def __init__(self, base_url: str, username: str, password: str):
        self.http = httpx.Client(base_url=base_url, timeout=120)  # (publishing fits the search model: ~30 s)
        page = self.http.get("/console/login")
        token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
        self.cookies = cookies_of(page)
        done = self.http.post("/console/login", data={"username": username, "password": password, "login_token": token, "next": "/console"},
                              headers=self._cookie_header())
        assert done.status_code == 303, done.text
        self.cookies = {k: v for k, v in cookies_of(done).items() if v}
        self.csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', self.get("/console").text).group(1)

    def _cookie_header(self) -> dict:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def get(self, url: str) -> httpx.Response:
        return self.http.get(url, headers=self._cookie_header())

    def post(self, url: str, body: dict | None = None) -> httpx.Response:
        return self.http.post(url, json=body or {}, headers={**self._cookie_header(), "X-CSRF-Token": self.csrf})

    def close(self) -> None:
        self.http.close()


class Citizen:
    """The web chat's HTTP transport: a signed conversation of its own."""

    def __init__(self, base_url: str):
        self.http = httpx.Client(base_url=base_url, timeout=60)
        session = self.http.post("/api/webchat/session").json()
        self.id, self.auth = session["conversation_id"], {"Authorization": f"Bearer {session['token']}"}
        self.after = self.sent = 0

    def say(self, text: str) -> list[dict]:
        self.sent += 1
        response = self.http.post(f"/api/webchat/conversations/{self.id}/messages", headers=self.auth,
                                  json={"client_id": f"m{self.sent}", "text": text, "after": self.after})
        assert response.status_code == 200, response.text
        return self._new(response.json()["messages"])

    def inbox(self) -> list[dict]:
        return self._new(self.http.get(f"/api/webchat/conversations/{self.id}/messages?after={self.after}", headers=self.auth).json()["messages"])

    def _new(self, messages: list[dict]) -> list[dict]:
        if messages:
            self.after = messages[-1]["id"]
        return [m for m in messages if m["direction"] == "out"]


def texts(messages: list[dict]) -> str:
    return "\n".join(m["text"] for m in messages)
