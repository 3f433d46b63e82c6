"""No unmasked mobile or ID number in the processes' logs (var/log/: the app, Rasa, the cluster), as the tests before
this one left them (in a full run: the integration, browser and handoff tests, which start real processes). Masking
is bot/privacy.py's; the fields meant to hold such numbers (bookings, work orders) are in the database, not the logs."""
import re

from support import ROOT

# a mobile as a number of its own: not eleven digits inside a random hex id ("web-c8080c15850546059aff")
MOBILE = re.compile(r"(?<![0-9A-Za-z*])1[3-9]\d{9}(?![0-9A-Za-z])")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z*])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9A-Za-z])")


def test_the_logs_hold_no_unmasked_mobile_or_id_number():
    found = []
    for log in sorted((ROOT / "var" / "log").glob("*.log")):
        for number, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
            if MOBILE.search(line) or ID_NUMBER.search(line):
                found.append(f"{log.name}:{number}: {line[:160]}")
    assert not found, "unmasked personal data in the logs:\n" + "\n".join(found[:20])


def test_the_patterns_find_unmasked_numbers_and_pass_masked_ones():
    from bot.privacy import mask

    line = "我叫张三，电话13812345678，身份证511126199001011234"
    assert MOBILE.search(line) and ID_NUMBER.search(line)
    assert not MOBILE.search(mask(line)) and not ID_NUMBER.search(mask(line))
    assert not MOBILE.search("2026-12-02 14:56:46.392842 pid 1733158212345")
    assert not MOBILE.search("busy, not sent to Rasa for web-c8080c15850546059aff: waited more than 3 s")
    assert MOBILE.search("phone=13812345678, sender web-1") and MOBILE.search("call from 13812345678")


def test_a_traceback_quoting_a_citizen_is_masked_in_the_log():
    """An exception's message can quote what a citizen wrote; the app's log handlers mask it (bot/privacy.py)."""
    import io
    import logging

    from bot.privacy import MaskingFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(MaskingFormatter(logging.Formatter("%(levelname)s %(message)s")))
    logger = logging.getLogger("test.masking")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("Invalid isoformat string: '我叫谢婷 手机19136248805 身份证511126199001011234'")
        except ValueError:
            logger.exception("action failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "ERROR action failed" in text and "Traceback" in text and "ValueError" in text
    assert not MOBILE.search(text) and not ID_NUMBER.search(text)


def test_the_app_masks_its_process_logs():
    import logging

    from bot.privacy import MaskingFormatter, mask_logs

    root = logging.getLogger()
    before = list(root.handlers)
    try:
        mask_logs()
        mask_logs()  # idempotent
        assert root.handlers and all(isinstance(h.formatter, MaskingFormatter) for h in root.handlers)
        assert not any(isinstance(h.formatter, MaskingFormatter) and isinstance(h.formatter.inner, MaskingFormatter) for h in root.handlers)
    finally:
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)
        for handler in before:
            if isinstance(handler.formatter, MaskingFormatter):
                handler.setFormatter(handler.formatter.inner)
