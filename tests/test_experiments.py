"""The residual experiments (experiments/*.py): their quick modes write every output, and the collapse test is right."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "experiments"))

import common  # noqa: E402
import residual_scaling  # noqa: E402
import residual_speed  # noqa: E402


@pytest.fixture(autouse=True)
def torch_settings_restored():
    """The scripts set threads, deterministic kernels and denormal flushing for the whole process: undo that."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    torch.set_flush_denormal(False)  # torch's default


@pytest.mark.parametrize("script", [residual_speed, residual_scaling], ids=lambda s: s.NAME)
def test_the_quick_mode_writes_the_figure_the_table_and_the_data(tmp_path, script):
    assert script.main(["--quick", "--output", str(tmp_path)]) == 0
    png, table, data = (tmp_path / f"{script.NAME}{ext}" for ext in (".png", ".md", ".json"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = table.read_text()
    assert f"python experiments/{script.NAME}.py --quick" in text and "|---|" in text
    payload = json.loads(data.read_text())
    assert payload["args"]["quick"] is True and payload["runs"]


def test_residual_and_plain_blocks_cost_the_same():
    """The speed experiment's two networks differ only in the shortcut: same weights at the same seed."""
    common.seed_everything(0)
    residual = common.SmallInception(width=8, blocks=2, residual=True)
    common.seed_everything(0)
    plain = common.SmallInception(width=8, blocks=2, residual=False)
    assert common.count_params(residual) == common.count_params(plain)
    assert common.count_macs(residual) == common.count_macs(plain)
    assert all(torch.equal(a, b) for a, b in zip(residual.parameters(), plain.parameters(), strict=True))


def test_the_collapse_test_on_constructed_runs():
    steps = list(range(1, 41))
    healthy = [0.5] * 40
    assert common.find_collapse(steps, [2.0] * 40, healthy) == common.Collapse(None, "")
    # A non-finite loss is a divergence, at its first step.
    loss = [2.0] * 12 + [math.nan] + [math.inf] * 27
    assert common.find_collapse(steps, loss, healthy) == common.Collapse(13, "diverged")
    # Dead (all but < 1e-3 of the last feature map zero) from step 21 to the end: died at 21.
    alive = [0.5] * 20 + [0.0] * 10 + [5e-4] * 10
    assert common.find_collapse(steps, [2.3] * 40, alive) == common.Collapse(21, "died")
    # A dead stretch that recovers is no collapse; the last dead stretch is the one that counts.
    alive = [0.5] * 5 + [0.0] * 15 + [0.01] * 5 + [0.0] * 15
    assert common.find_collapse(steps, [2.3] * 40, alive) == common.Collapse(26, "died")
    assert common.find_collapse(steps, [2.3] * 40, [0.5] * 5 + [0.0] * 15 + [0.01] * 20).step is None
    # Dead for fewer than DEAD_FOR logged steps at the end: not yet called dead.
    short = [0.5] * (40 - common.DEAD_FOR + 1) + [0.0] * (common.DEAD_FOR - 1)
    assert common.find_collapse(steps, [2.3] * 40, short).step is None
    # Exactly at the threshold is alive.
    assert common.find_collapse(steps, [2.3] * 40, [common.DEAD_BELOW] * 40).step is None


def test_the_collapse_test_on_a_killed_network():
    """A network whose last blocks output only zeros (their projection's bias driven far negative) is dead."""
    common.seed_everything(0)
    model = common.WideInception(width=16, blocks=1, scale=1.0)
    with torch.no_grad():
        model.features[-1].project.bias.fill_(-1e4)  # relu(x + scale * project(...)) = 0 everywhere
    data = common.load_digits()
    history = common.train_run(model, data, steps=common.DEAD_FOR, seed=0, batch_size=8, lr=0.0, eval_every=100)
    assert history.alive == [0.0] * common.DEAD_FOR
    assert common.find_collapse(history.steps, history.loss, history.alive) == common.Collapse(1, "died")
