"""`activelearn report` rendered in a real headless Chromium: every plot loads, also from a
copy of the folder, and a broken plot shows (so the check can fail)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.kinds import Split
from activelearn.state import Store
from support.report_data import PLOTS, SECTIONS, build_simulate, build_state, parse


@pytest.fixture
def project(project_file, tmp_path) -> Path:
    """A project file whose WORK_DIR holds the hand-built state and a simulate run."""
    config = project_file()
    build_state(tmp_path / "work" / "state.sqlite")
    build_simulate(tmp_path / "work" / "simulate")
    return config


def render(chromium: str, page: Path, tmp_path: Path) -> tuple[str, str]:
    """Load the page in headless Chromium; returns (data-images-loaded, the final DOM)."""
    profile = tmp_path / f"chromium-profile-{page.parent.name}"
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", f"--user-data-dir={profile}",
         "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'data-images-loaded="(\d+/\d+)"', done.stdout)
    assert found, f"the page's load script did not run: {done.stdout[:500]}"
    return found.group(1), done.stdout


def test_cli_report_renders_in_chromium_with_every_plot_loaded(project, chromium,
                                                                tmp_path) -> None:
    result = CliRunner().invoke(main, ["report", "--config", str(project)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "work" / "report"
    assert f"wrote {out / 'index.html'} with {len(PLOTS)} plots" in result.output
    # the page must work from anywhere: render a copy of the folder, not the original
    copy = tmp_path / "elsewhere" / "copied-report"
    shutil.copytree(out, copy)
    loaded, dom = render(chromium, copy / "index.html", tmp_path)
    page = parse(dom)
    assert set(page.images) == PLOTS and len(page.images) == len(PLOTS)
    assert loaded == f"{len(PLOTS)}/{len(PLOTS)}"
    assert page.sections == {name: "true" for name in SECTIONS}
    assert "activelearn report: t" in dom and "No data" not in dom


def test_a_missing_plot_shows_in_the_rendered_page(project, chromium, tmp_path) -> None:
    """The load counter sees a broken image (so the test above can fail)."""
    config = project
    assert CliRunner().invoke(main, ["report", "--config", str(config)]).exit_code == 0
    out = tmp_path / "work" / "report"
    (out / "confusion_test.png").write_bytes(b"not a png")
    (out / "agreement.png").unlink()
    loaded, _ = render(chromium, out / "index.html", tmp_path)
    assert loaded == f"{len(PLOTS) - 2}/{len(PLOTS)}"


def test_empty_project_renders_with_no_data_sections(project_file, chromium,
                                                      tmp_path) -> None:
    config = project_file()
    state = tmp_path / "work" / "state.sqlite"
    with Store.open(state) as store:  # `activelearn init` was run: items, no rounds yet
        store.items.add([("img0", 0, None, Split.TRAIN.value)])
    result = CliRunner().invoke(main, ["report", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "with 0 plots" in result.output and "no data yet for:" in result.output
    loaded, dom = render(chromium, tmp_path / "work" / "report" / "index.html", tmp_path)
    page = parse(dom)
    assert loaded == "0/0" and page.images == []
    assert page.sections == {name: "false" for name in SECTIONS}
    assert dom.count("No data:") == len(SECTIONS)
    assert "No rounds yet" in dom
