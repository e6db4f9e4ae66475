"""Runs zoo's shipped model contract (``zoo.testing.test_contract``) over every installed architecture.

Plugin authors run the same checks on their own models with ``pytest --pyargs zoo.testing.test_contract``.
The probe models the core tests use as subjects (tests/_probe.py) are held to the same contract below, so that
they stand in faithfully for a plugin's models, and the contract runs on models even with genzoo-dense blocked.
"""

import inspect
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import zoo
import zoo.testing.test_contract as contract
from zoo.protocols import Generator
from zoo.testing.test_contract import *  # noqa: F403
from zoo.testing.test_contract import (
    _configs,
    test_config_json_round_trip,
    test_config_over_the_parameter_budget_is_rejected_before_allocation,
    test_forward_shapes,
    test_models_that_take_data_declare_its_shape,
    test_negative_sizes_are_rejected,
    test_objective_gives_finite_grads_to_every_trainable_parameter,
    test_parameter_count_is_exact,
    test_samples_in_eval_use_carry_no_autograd_history,
    test_save_load_round_trip_is_exact,
    test_spec_has_a_kind_and_a_usable_config,
    test_tampered_weights_are_refused,
    test_unknown_config_key_is_rejected,
)

from _probe import NAMES


@pytest.mark.usefixtures("probe_models")
@pytest.mark.parametrize("name", NAMES)
def test_probe_models_keep_the_contract(name: str, tmp_path: Path) -> None:
    test_spec_has_a_kind_and_a_usable_config(name)
    test_models_that_take_data_declare_its_shape(name)
    test_unknown_config_key_is_rejected(name)
    test_negative_sizes_are_rejected(name)
    test_config_over_the_parameter_budget_is_rejected_before_allocation(name)
    test_tampered_weights_are_refused(name, tmp_path / "tampered")
    if isinstance(zoo.create(name), Generator):
        test_samples_in_eval_use_carry_no_autograd_history(name)
    for i, overrides in enumerate(_configs(name)):
        test_forward_shapes(name, overrides)
        test_objective_gives_finite_grads_to_every_trainable_parameter(name, overrides)
        test_parameter_count_is_exact(name, overrides)
        test_save_load_round_trip_is_exact(name, overrides, tmp_path / f"saved-{i}")
        test_config_json_round_trip(name, overrides)


def _model_parametrized(test: object) -> bool:
    """Whether a contract test is parametrized over the installed models (``name``)."""
    for mark in getattr(test, "pytestmark", []):
        if mark.name == "parametrize":
            argnames = mark.args[0]
            if "name" in ([n.strip() for n in argnames.split(",")] if isinstance(argnames, str) else argnames):
                return True
    return False


def test_shipped_contract_passes_with_the_first_party_plugin_blocked(tmp_path: Path) -> None:
    """The core knows no concrete model: ``ZOO_BLOCK_PLUGINS=dense pytest --pyargs zoo.testing.test_contract``, run
    as a plugin author runs it, passes; every core check that needs no installed model (strict loading, on the
    contract's own probe) runs and passes, and no test names a first-party model."""
    report = tmp_path / "contract.xml"
    env = {**os.environ, "ZOO_BLOCK_PLUGINS": "dense", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pyargs", "zoo.testing.test_contract",
         f"--junitxml={report}"],
        capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[1], timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    cases = ET.parse(report).getroot().iter("testcase")
    outcomes = {case.get("name", ""): [child.tag for child in case] for case in cases}
    assert not any("dense-" in name for name in outcomes), sorted(outcomes)
    assert not any({"failure", "error"} & set(tags) for tags in outcomes.values())
    passed = {name.split("[")[0] for name, tags in outcomes.items() if not tags}
    core_checks = {name for name, test in inspect.getmembers(contract, inspect.isfunction)
                   if name.startswith("test_") and not _model_parametrized(test)}
    assert {"test_probe_model_round_trips", "test_truncated_weights_are_refused"} <= core_checks
    assert core_checks <= passed, sorted(core_checks - passed)
