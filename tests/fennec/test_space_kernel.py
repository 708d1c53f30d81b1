"""Tests of the cold-task kernel of the transfer space (fennec.space._kernel, ._calibration): bagged settings
and their mixture."""
from __future__ import annotations

import numpy as np
import pytest

from fennec.space import KernelSetting, TaskKernel
from fennec.space._calibration import BAGS, _bagged_shares


def test_a_setting_that_wins_on_every_task_takes_every_bag():
    rng = np.random.default_rng(0)
    gains = rng.normal(0.0, 0.01, size=(15, 6))
    gains[:, 2] += 0.1
    shares = _bagged_shares(gains, seed=3)
    assert shares[2] == 1.0 and shares.sum() == pytest.approx(1.0)


def test_two_settings_that_each_win_half_the_tasks_share_the_bags():
    gains = np.zeros((16, 3))
    gains[::2, 0], gains[1::2, 1] = 0.2, 0.2  # equal means: which one wins depends on the resample
    shares = _bagged_shares(gains, seed=0)
    assert shares[0] > 0.2 and shares[1] > 0.2 and shares[2] == 0.0
    assert shares.sum() == pytest.approx(1.0) and np.allclose(shares * BAGS, np.round(shares * BAGS))
    np.testing.assert_array_equal(shares, _bagged_shares(gains, seed=0))


def test_the_bagged_kernel_averages_its_settings_weights():
    rng = np.random.default_rng(1)
    points, queries = rng.normal(size=(8, 4)), rng.normal(size=(3, 4))
    rows = np.arange(1, 9)  # training task 0 has no side features
    narrow = KernelSetting(((0, 2),), 0.5, 0.1, 0.25)
    wide = KernelSetting(((0, 2), (2, 4)), 2.0, 1.0, 0.75)
    mixed = TaskKernel(points, rows, (narrow, wide))
    parts = [TaskKernel(points, rows, (KernelSetting(s.blocks, s.width, s.prior),)).weights(queries, 9)
             for s in (narrow, wide)]
    weights, data = mixed.weights(queries, 9)
    np.testing.assert_allclose(weights, 0.25 * parts[0][0] + 0.75 * parts[1][0])
    np.testing.assert_allclose(data, 0.25 * parts[0][1] + 0.75 * parts[1][1])
    np.testing.assert_allclose(weights.sum(1), 1.0)
    assert (weights[:, 0] > 0).all()  # the prior's share reaches every task


def test_a_kernel_without_settings_gives_the_prior():
    kernel = TaskKernel(np.ones((4, 2)), np.arange(4))
    weights, data = kernel.weights(np.zeros((2, 2)), 5)
    assert not kernel.used
    np.testing.assert_allclose(weights, 0.2)
    np.testing.assert_array_equal(data, 0.0)
