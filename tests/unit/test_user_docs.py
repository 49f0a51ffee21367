"""The user documentation describes the product only: no build history (issue or session numbers,
the engineers who worked on it), and every file a samples README lists is there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from facesvg.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[2]
# What a user reads: the READMEs, docs/, the samples, the viewer, the events' README.
USER_DOCS = sorted(
    [
        ROOT / "README.md",
        *(ROOT / "docs").rglob("*.md"),
        *(ROOT / "samples").rglob("README*"),
        *(ROOT / "layers").rglob("README.md"),
        *(ROOT / "events").rglob("README.md"),
        *(p for p in (ROOT / "viewer").rglob("*") if p.suffix in (".html", ".js", ".css")),
    ]
)
HISTORY = re.compile(
    r"\bissues? ?#?\d+|\bissue-\d+|\bsessions? ?\d+|\bsession's\b|\bbase commit\b|\banother engineer",
    re.IGNORECASE,
)


def _history(text: str) -> list[str]:
    return [line.strip()[:160] for line in text.splitlines() if HISTORY.search(line)]


def test_the_pattern_finds_build_history() -> None:
    for line in ("before issue 13", "(issue 16)", "an issue-12 bar", "at the end of session 3",
                 "the session's base commit", "another engineer's tests"):  # fmt: skip
        assert _history(line), line
    assert not _history("a session of uploads; issues are welcome; 3 sessions")


@pytest.mark.parametrize("path", USER_DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_user_docs_have_no_build_history(path: Path) -> None:
    assert not _history(path.read_text(encoding="utf-8")), f"{path.relative_to(ROOT)}: build history"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_cli_help_has_no_build_history(command: str) -> None:
    parser = build_parser([command])
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]  # type: ignore[union-attr]
    assert not _history(parser.format_help() + sub.format_help())


SAMPLE_READMES = sorted((ROOT / "samples").rglob("README.md"))


@pytest.mark.parametrize("readme", SAMPLE_READMES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_a_samples_readme_lists_is_there(readme: Path) -> None:
    listed: list[str] = []
    for line in readme.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if cells and re.fullmatch(r"[\w.*-]+(\s*,\s*[\w.*-]+)*", cells[0]) and "." in cells[0]:
            listed += [name.strip() for name in cells[0].split(",")]
    listed += re.findall(r"`([\w-]+\.(?:png|jpe?g|txt|json|html|svg))`", readme.read_text(encoding="utf-8"))
    assert listed, f"{readme}: lists no file"
    missing = [name for name in listed if not list(readme.parent.glob(name))]
    assert not missing, f"{readme.relative_to(ROOT)} lists files that are not there: {missing}"
