"""Runs zoo's shipped model contract (``zoo.testing.test_contract``) over every installed architecture.

Plugin authors run the same checks on their own models with ``pytest --pyargs zoo.testing.test_contract``.
"""

from zoo.testing.test_contract import *  # noqa: F403
