"""``--help`` of every command teaches once: no option is listed twice."""

from __future__ import annotations

import argparse
import re

import pytest

from specanalysis.cli import build_parser


def _parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    out = []

    def walk(name: str, parser: argparse.ArgumentParser) -> None:
        out.append((name, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, p in action.choices.items():
                    walk(f"{name} {sub}", p)

    walk("specanalysis", build_parser())
    return out


PARSERS = _parsers()

# an option at the start of a help line: "  --window DURATION  look-back ..."
_OPTION_LINE = re.compile(r"^ {2}(--[a-z][a-z0-9-]*)(?=[\s,=]|$)", re.MULTILINE)


def test_walk_finds_the_commands():
    names = {n for n, _ in PARSERS}
    assert {"specanalysis profile", "specanalysis recommend",
            "specanalysis fixtures list"} <= names


@pytest.mark.parametrize("parser", [p for _, p in PARSERS],
                         ids=[n.replace(" ", "_") for n, _ in PARSERS])
def test_no_option_listed_twice(parser):
    text = parser.format_help()
    seen = _OPTION_LINE.findall(text)
    dups = sorted({o for o in seen if seen.count(o) > 1})
    assert not dups, f"{parser.prog} --help lists {dups} more than once:\n{text}"


def test_the_check_catches_a_duplicate():
    p = argparse.ArgumentParser(prog="x", epilog="  --window D   again\n",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--window")
    seen = _OPTION_LINE.findall(p.format_help())
    assert seen.count("--window") == 2


def test_recommend_help_names_the_bundled_configs():
    text = dict(PARSERS)["specanalysis recommend"].format_help()
    assert "fixtures list" in text and "bundled" in text
