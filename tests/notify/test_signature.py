"""The delivery-report signature refuses anything forged, whatever characters it holds."""

from __future__ import annotations

from govloop.notify.channels.kannel import dlr_signature, signature_ok


def test_signature_checks_without_failing_on_odd_input():
    good = dlr_signature("secret", 42)
    assert signature_ok("secret", 42, good)
    assert signature_ok("secret", 42, good.upper())
    assert not signature_ok("secret", 43, good)
    assert not signature_ok("secret", 42, "")
    assert not signature_ok("secret", 42, "签名ä" * 8)  # non-ASCII: False, not a TypeError
