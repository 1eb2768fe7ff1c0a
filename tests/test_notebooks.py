"""The notebooks in notebooks/ execute from top to bottom without error."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, tmp_path, request):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    if nb.metadata.get("autoopt", {}).get("requires_shared_data"):
        request.getfixturevalue("shared_data")  # skips, saying why, when the real data is missing
    client = nbclient.NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def test_there_is_a_tour():
    assert any(p.name == "01_tour.ipynb" for p in NOTEBOOKS)


@pytest.mark.slow
@pytest.mark.notebook
def test_forecast_notebook_runs_on_package_data_alone(tmp_path, monkeypatch):
    """Notebook 03 runs from a folder outside the repository with no shared data configured (issue 14)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(
        Path(__file__).resolve().parents[1] / "notebooks" / "03_forecast_and_anomalies.ipynb", 4
    )
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    text = "\n".join(c.source for c in nb.cells)  # the prose too: it must not send a reader there either
    assert "benchmarks" not in text
    assert "shared" not in code
    assert "AUTOOPT_SHARED_DATA" not in text
    assert not nb.metadata.get("autoopt", {}).get("requires_shared_data")
    monkeypatch.setenv("AUTOOPT_SHARED_DATA", str(tmp_path / "no-shared-data"))
    client = nbclient.NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
