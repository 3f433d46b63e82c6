"""Mask personal data (ID numbers, mobile and landline phones, names after 我叫/姓名) for logs and transcripts."""
from __future__ import annotations

import logging
import re

_ID = re.compile(r"(?<![0-9A-Za-z])([1-9]\d{5})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d[ -]?)(\d{4})([ -]?\d{4})(?!\d)")  # also typed in groups: "139 1234 5678"
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3}-?)(\d{3,4})(\d{4})(?!\d)")
_E164 = re.compile(r"\+(\d{2})(\d{3,11})(\d{4})(?!\d)")  # a caller's number as phone networks send it
_NAME = re.compile(r"(我叫|我是|姓名[:：]?|名字[是叫]?)([\u4e00-\u9fa5])([\u4e00-\u9fa5]{1,3})")


def mask(text: str) -> str:
    """Text with personal data masked: 511126********1234, 138****5678, 张**."""
    if not text:
        return text
    text = _E164.sub(lambda m: "+" + m.group(1) + "*" * len(m.group(2)) + m.group(3), text)
    text = _ID.sub(lambda m: m.group(1) + "*" * 8 + m.group(3), text)
    text = _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
    text = _LANDLINE.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)
    text = _NAME.sub(lambda m: m.group(1) + m.group(2) + "*" * len(m.group(3)), text)
    return text


class MaskingFormatter(logging.Formatter):
    """A log line with personal data masked, its traceback included: an exception's message can quote what a citizen
    wrote ("Invalid isoformat string: '我叫… 手机139…'"). Wraps the handler's own formatter, if it had one."""

    def __init__(self, inner: logging.Formatter | None = None):
        super().__init__("%(message)s")
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return mask(self.inner.format(record) if self.inner is not None else super().format(record))


LOGGERS = ("", "uvicorn", "uvicorn.error")  # the root logger (the app's own loggers propagate to it) and uvicorn's


def mask_logs() -> None:
    """Every log line of this process with personal data masked: uvicorn's handlers get a masking formatter, and the
    root logger a stderr handler with one (at WARNING, as Python's last-resort handler printed before). Idempotent."""
    root = logging.getLogger()
    if not root.handlers:
        stderr = logging.StreamHandler()
        stderr.setLevel(logging.WARNING)
        root.addHandler(stderr)
    for name in LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not isinstance(handler.formatter, MaskingFormatter):
                handler.setFormatter(MaskingFormatter(handler.formatter))
