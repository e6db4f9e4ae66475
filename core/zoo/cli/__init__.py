"""The ``zoo`` command line: ``main`` is the console script (``zoo = zoo.cli:main``) and ``python -m zoo``.

Layout: ``_main`` builds the parser and runs a command; ``_common`` holds the parser class, usage errors and
output helpers; ``_errors`` maps exceptions to exit statuses. One module per command group (``registry``,
``train``, ``generate``, ``eval``, ``hub``, ``export``) declares its commands' options from plain data; what each
command does lives in the group's ``_run_*`` module, imported only when that command runs.
"""

from zoo.cli._main import main

__all__ = ["main"]
