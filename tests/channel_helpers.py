"""Test doubles and clients for the WeChat and phone channels: a local fake of WeChat's API, a citizen's
WeChat client built on wechatpy (signing, encrypting, decrypting replies), a Twilio caller signing its
requests with twilio's RequestValidator, and a delaying proxy in front of Rasa."""
from __future__ import annotations

import json
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import httpx
import xmltodict
from twilio.request_validator import RequestValidator
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner, random_string

WECHAT_TOKEN = "jiajiang12345token"
WECHAT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, like the one WeChat shows
WECHAT_APP_ID = "wx1234567890abcdef"
WECHAT_APP_SECRET = "app-secret-for-tests"
ACCOUNT = "gh_jiajiang12345"
TWILIO_TOKEN = "twilio-auth-token-for-tests"
OPERATOR = "+868335555555"


class _Server:
    """A ThreadingHTTPServer on a free local port, stopped by close()."""

    def __init__(self, handler_class):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeWeChatAPI(_Server):
    """WeChat's `cgi-bin/token` and `cgi-bin/message/custom/send`, recording what was sent."""

    def __init__(self):
        self.token_fetches = 0
        self.token = ""
        self.sent: list[dict] = []
        self.expire_once = False  # answer the next send with 42001 (access token expired)
        self.errors: dict[str, int] = {}  # openid -> errcode to answer with
        self.changed = threading.Condition()
        super().__init__(_WeChatHandler)

    @property
    def base(self) -> str:
        return self.url + "/cgi-bin/"

    def to(self, openid: str) -> list[str]:
        return [m["text"]["content"] for m in self.sent if m["touser"] == openid]

    def wait_for(self, openid: str, count: int = 1, timeout: float = 15.0) -> list[str]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.to(openid)) < count and time.monotonic() < deadline:
                self.changed.wait(timeout=0.1)
        return self.to(openid)


class _WeChatHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _json(self, body: dict) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        fake: FakeWeChatAPI = self.server.owner
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/cgi-bin/token":
            if query.get("appid") != WECHAT_APP_ID or query.get("secret") != WECHAT_APP_SECRET:
                return self._json({"errcode": 40013, "errmsg": "invalid appid"})
            with fake.changed:
                fake.token_fetches += 1
                fake.token = f"ACCESS-{fake.token_fetches}-{uuid.uuid4().hex[:8]}"
            return self._json({"access_token": fake.token, "expires_in": 7200})
        self._json({"errcode": 404, "errmsg": "not found"})

    def do_POST(self):
        fake: FakeWeChatAPI = self.server.owner
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if url.path != "/cgi-bin/message/custom/send":
            return self._json({"errcode": 404, "errmsg": "not found"})
        with fake.changed:
            if fake.expire_once:
                fake.expire_once = False
                return self._json({"errcode": 42001, "errmsg": "access_token expired"})
            if query.get("access_token") != fake.token:
                return self._json({"errcode": 40001, "errmsg": "invalid credential"})
            if body.get("touser") in fake.errors:
                return self._json({"errcode": fake.errors[body["touser"]], "errmsg": "refused by the fake"})
            fake.sent.append(body)
            fake.changed.notify_all()
        self._json({"errcode": 0, "errmsg": "ok"})


class SlowRasa(_Server):
    """A proxy in front of the real Rasa that delays REST webhook calls by `delay` seconds and counts them."""

    def __init__(self, rasa_url: str):
        self.rasa_url = rasa_url.rstrip("/")
        self.delay = 0.0
        self.webhook_calls: list[str] = []
        self.http = httpx.Client(timeout=60)
        super().__init__(_ProxyHandler)

    def close(self) -> None:
        super().close()
        self.http.close()


class _ProxyHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _forward(self, method: str) -> None:
        proxy: SlowRasa = self.server.owner
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" else b""
        if self.path.startswith("/webhooks/rest/webhook"):
            proxy.webhook_calls.append(json.loads(body).get("message", ""))
            time.sleep(proxy.delay)
        upstream = proxy.http.request(method, proxy.rasa_url + self.path, content=body,
                                      headers={"Content-Type": self.headers.get("Content-Type", "application/json")})
        self.send_response(upstream.status_code)
        self.send_header("Content-Type", upstream.headers.get("content-type", "application/json"))
        self.send_header("Content-Length", str(len(upstream.content)))
        self.end_headers()
        self.wfile.write(upstream.content)

    def do_GET(self):
        self._forward("GET")

    def do_POST(self):
        self._forward("POST")


# --- a citizen on WeChat -------------------------------------------------------------------------

def message_xml(openid: str, msg_type: str, **fields) -> str:
    """A message as WeChat's server sends it (CDATA for strings)."""
    parts = {"ToUserName": ACCOUNT, "FromUserName": openid, "CreateTime": fields.pop("CreateTime", int(time.time())), "MsgType": msg_type, **fields}
    inner = "".join(f"<{k}>{v}</{k}>" if isinstance(v, int) else f"<{k}><![CDATA[{v}]]></{k}>" for k, v in parts.items())
    return f"<xml>{inner}</xml>"


class WeChatUser:
    """Posts signed (and in safe/compatible mode encrypted) messages the way WeChat's server does."""

    def __init__(self, http: httpx.Client, openid: str | None = None, encrypt: bool = True, token: str = WECHAT_TOKEN):
        self.http, self.encrypt, self.token = http, encrypt, token
        self.openid = openid or "oJ" + uuid.uuid4().hex[:26]
        self.crypto = WeChatCrypto(token, WECHAT_AES_KEY, WECHAT_APP_ID)
        self._msg_id = int(time.time() * 1000) * 1000

    def next_msg_id(self) -> int:
        self._msg_id += 1
        return self._msg_id

    def signed_query(self, timestamp: str, nonce: str) -> dict:
        signer = WeChatSigner()
        signer.add_data(self.token, timestamp, nonce)
        return {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce, "openid": self.openid}

    def post_xml(self, xml: str) -> httpx.Response:
        timestamp, nonce = str(int(time.time())), random_string(10)
        query = self.signed_query(timestamp, nonce)
        body = xml
        if self.encrypt:
            envelope = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, timestamp))["xml"]
            body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
            query.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
        return self.http.post("/channels/wechat", params=query, content=body.encode("utf-8"), headers={"Content-Type": "text/xml"})

    def reply_of(self, response: httpx.Response) -> dict | None:
        """The passive reply as a dict (decrypted in safe mode), or None for `success`."""
        assert response.status_code == 200, response.text
        if response.text == "success":
            return None
        xml = response.text
        if self.encrypt:
            envelope = xmltodict.parse(xml)["xml"]
            xml = self.crypto.decrypt_message(xml, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
        reply = xmltodict.parse(xml)["xml"]
        assert reply["ToUserName"] == self.openid and reply["FromUserName"] == ACCOUNT and reply["MsgType"] == "text"
        return reply

    def send(self, text: str, msg_id: int | None = None) -> httpx.Response:
        return self.post_xml(message_xml(self.openid, "text", Content=text, MsgId=msg_id or self.next_msg_id()))

    def say(self, text: str, msg_id: int | None = None) -> str | None:
        """Send a text; the passive reply's content, or None for `success`."""
        reply = self.reply_of(self.send(text, msg_id))
        return reply["Content"] if reply else None

    def event(self, event: str, create_time: int | None = None, **fields) -> httpx.Response:
        return self.post_xml(message_xml(self.openid, "event", Event=event, CreateTime=create_time or int(time.time()), **fields))


# --- a caller on the phone -----------------------------------------------------------------------

class Caller:
    """Posts Twilio's voice webhooks, signed for the public URL, and parses the TwiML answers."""

    def __init__(self, http: httpx.Client, public_url: str, token: str = TWILIO_TOKEN, number: str = "+8613812345678"):
        self.http, self.public_url, self.token, self.number = http, public_url.rstrip("/"), token, number
        self.call_sid = "CA" + uuid.uuid4().hex

    def params(self, **extra) -> dict:
        return {"AccountSid": "AC" + "0" * 32, "CallSid": self.call_sid, "From": self.number, "To": "+868333312345",
                "Direction": "inbound", "CallStatus": "in-progress", **extra}

    def post(self, url: str, signature: str | None = None, **extra) -> httpx.Response:
        """POST to a path or to a URL from the TwiML (on the public address), signed unless a signature is given."""
        public = url if url.startswith("http") else self.public_url + url
        assert public.startswith(self.public_url), public
        params = self.params(**extra)
        if signature is None:
            signature = RequestValidator(self.token).compute_signature(public, params)
        return self.http.post(public[len(self.public_url):], data=params, headers={"X-Twilio-Signature": signature})

    def twiml(self, url: str, **extra) -> ET.Element:
        response = self.post(url, **extra)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/xml")
        root = ET.fromstring(response.content)
        assert root.tag == "Response"
        return root


def said(root: ET.Element) -> str:
    """Everything the TwiML says, in order (nested in Gather too)."""
    return "".join(e.text or "" for e in root.iter("Say"))
