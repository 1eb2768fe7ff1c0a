"""The ``autoopt`` command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from autoopt.cli import main


def test_demo_command(tmp_path, capsys):
    assert main(["demo", "--days", "0.5", "-q", "--no-plot", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for heading in (
        "Trace",
        "Decisions",
        "Load levels (minutes)",
        "Load shedding",
        "Forecasts 30 min ahead",
        "Capacity",
    ):
        assert heading in out
    assert "minutes replayed                     720" in out
    assert (tmp_path / "summary.json").is_file()


def test_version_and_help():
    proc = subprocess.run(
        [sys.executable, "-m", "autoopt", "--version"], capture_output=True, text=True, check=True
    )
    assert proc.stdout.startswith("autoopt ")
    with pytest.raises(SystemExit):
        main(["demo", "--days", "nope"])
