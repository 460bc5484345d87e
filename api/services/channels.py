"""Notification channels behind one interface: 企业微信 group robot, 钉钉 robot (signed), a generic webhook
signed per Standard Webhooks, and SMS (a provider interface; the logging one for development).

A channel sends one message or raises DeliveryError; the outbox (api/services/outbox.py) retries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from api.errors import Invalid

log = logging.getLogger(__name__)
TIMEOUT_S = 5.0


class DeliveryError(Exception):
    """The receiver did not take the message; the outbox tries again later."""


@dataclass(frozen=True)
class Message:
    id: str                   # stable across retries: the receiver's idempotency key (webhook-id)
    title: str
    text: str                 # markdown lines
    data: dict[str, object]   # the step as JSON, for webhooks


class Channel(Protocol):
    def send(self, target: str, secret: str, msg: Message) -> None: ...


class SmsSender(Protocol):
    def send_sms(self, phone: str, text: str) -> None: ...


@dataclass
class LoggingSms:
    """Development SMS: logs the text and keeps it (a real provider implements SmsSender)."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send_sms(self, phone: str, text: str) -> None:
        log.info("SMS to %s: %s", phone, text)
        with self._lock:
            self.sent.append((phone, text))


def _post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    try:
        r = httpx.post(url, content=body, headers={"Content-Type": "application/json", **headers},
                       timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
    if r.status_code // 100 != 2:
        raise DeliveryError(f"HTTP {r.status_code}: {r.text[:200]}")
    return r


def _robot_ok(r: httpx.Response) -> None:
    """Both robots answer 200 with errcode 0 when the message is taken."""
    try:
        code = r.json().get("errcode")
    except (ValueError, AttributeError):
        raise DeliveryError(f"not a robot answer: {r.text[:200]}") from None
    if code != 0:
        raise DeliveryError(f"robot refused: {r.text[:200]}")


class WeCom:
    """企业微信 group robot: POST {"msgtype": "markdown", "markdown": {"content"}} to its webhook URL
    (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...)."""

    def send(self, target: str, secret: str, msg: Message) -> None:
        content = f"**{msg.title}**\n{msg.text}"
        body = json.dumps({"msgtype": "markdown", "markdown": {"content": content}}, ensure_ascii=False)
        _robot_ok(_post(target, body.encode(), {}))


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """钉钉 加签: base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>")), URL-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


class DingTalk:
    """钉钉 robot: POST {"msgtype": "markdown", "markdown": {"title", "text"}} to its webhook URL
    (https://oapi.dingtalk.com/robot/send?access_token=...) with &timestamp=&sign= when it has a secret."""

    def send(self, target: str, secret: str, msg: Message) -> None:
        url = target
        if secret:
            ts = int(time.time() * 1000)
            url += ("&" if "?" in url else "?") + f"timestamp={ts}&sign={dingtalk_sign(secret, ts)}"
        body = json.dumps({"msgtype": "markdown", "markdown": {"title": msg.title,
                                                               "text": f"### {msg.title}\n{msg.text}"}},
                          ensure_ascii=False)
        _robot_ok(_post(url, body.encode(), {}))


def webhook_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: base64 after the whsec_ prefix."""
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        raise Invalid("webhook secret: give whsec_ followed by base64 (e.g. from POST /api/subscriptions "
                      "without a secret, which makes one)") from None


def webhook_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(webhook_key(secret), signed, hashlib.sha256).digest()).decode()


class Webhook:
    """A generic webhook signed per Standard Webhooks: webhook-id, webhook-timestamp (seconds) and
    webhook-signature (v1,<base64 HMAC-SHA256 of "id.timestamp.body">) headers; any 2xx is taken."""

    def send(self, target: str, secret: str, msg: Message) -> None:
        body = json.dumps({"type": "incident.step", "timestamp": msg.data.get("at"), "data": msg.data},
                          ensure_ascii=False, separators=(",", ":")).encode()
        ts = int(time.time())
        _post(target, body, {"webhook-id": msg.id, "webhook-timestamp": str(ts),
                             "webhook-signature": webhook_signature(secret, msg.id, ts, body)})


class Sms:
    def __init__(self, sender: SmsSender) -> None:
        self.sender = sender

    def send(self, target: str, secret: str, msg: Message) -> None:
        try:
            self.sender.send_sms(target, f"【雪亮】{msg.title}")
        except Exception as exc:
            raise DeliveryError(f"SMS provider: {exc}") from exc


CHANNELS = ("wecom", "dingtalk", "webhook", "sms")


def make_channels(sms: SmsSender) -> dict[str, Channel]:
    return {"wecom": WeCom(), "dingtalk": DingTalk(), "webhook": Webhook(), "sms": Sms(sms)}
