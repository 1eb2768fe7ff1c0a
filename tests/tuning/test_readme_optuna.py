"""The README's "Coming from Optuna" blocks run as written, and find the same best trial (issue 13)."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Coming from Optuna", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_the_optuna_and_autoopt_blocks_run_and_agree(tmp_path: Path) -> None:
    optuna_block, autoopt_block = blocks()
    cwd = os.getcwd()
    os.chdir(tmp_path)  # the blocks write their SQLite files to the working directory
    try:
        ours: dict[str, object] = {}
        theirs: dict[str, object] = {}
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(optuna_block, "README:optuna", "exec"), theirs)
            exec(compile(autoopt_block, "README:autoopt", "exec"), ours)
            # Run again: both resume their stored study (load_if_exists) rather than failing.
            exec(
                compile(
                    autoopt_block.replace("tuner.optimize(session.session_id)", ""), "README:again", "exec"
                ),
                {},
            )
    finally:
        os.chdir(cwd)
    study, session = theirs["study"], ours["session"]
    assert session.iterations == len(study.trials) == 40  # type: ignore[attr-defined]
    # Same sampler, same seed, same space: the same trials, so the same best.
    assert session.best_score == study.best_value  # type: ignore[attr-defined]
    assert session.best_parameters == study.best_params  # type: ignore[attr-defined]


def test_the_readme_plots_example_draws_its_figure(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "plots.png"
    script = README.parent / "examples" / "tuning_plots.py"
    subprocess.run([sys.executable, str(script), str(out)], check=True, capture_output=True, timeout=300)
    assert out.stat().st_size > 10_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
