"""Scenario lines are split as ``shlex.split(line, comments=True)`` splits them (without its
quadratic cost on a long word: tests/test_hardening_io.py runs megabyte-long lines)."""

from __future__ import annotations

import shlex

from hypothesis import example, given, settings
from hypothesis import strategies as st

from chatemu.cli.scenario import split_words


def shlex_words(line: str):
    try:
        return shlex.split(line, comments=True)
    except ValueError as exc:
        return f"ValueError: {exc}"


def our_words(line: str):
    try:
        return split_words(line)
    except ValueError as exc:
        return f"ValueError: {exc}"


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(st.text(alphabet=" \t\r\n#'\"\\ax-é\x1c", max_size=30))
@example('a"b\\"c\\d"e \'f\\g\' \\h#i\nj')
@example('"" \'\' x""y \\')
@example('#only a comment')
@example('a#b "#c" \\#d')
def test_words_are_shlexs_words(line):
    assert our_words(line) == shlex_words(line)
