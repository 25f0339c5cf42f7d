"""Token counts typed into the context dialog."""

from __future__ import annotations

import pytest

from rigtui.tui.widgets.dialogs import parse_tokens, tokens_check


@pytest.mark.parametrize("text, tokens", [("32768", 32768), ("32k", 32768), ("1M", 1 << 20), ("8,192", 8192)])
def test_parse_tokens_accepts_counts(text: str, tokens: int) -> None:
    assert parse_tokens(text) == tokens


@pytest.mark.parametrize("text", ["inf", "-inf", "1e400", "nan", "1.5", "abc"])
def test_parse_tokens_rejects_non_counts(text: str) -> None:
    with pytest.raises(ValueError):
        parse_tokens(text)


@pytest.mark.parametrize("text", ["inf", "1e400", "1e400k"])
def test_tokens_check_reports_infinite_input(text: str) -> None:
    message = tokens_check(512, 2_097_152)(text)
    assert message is not None
    assert text in message
