"""zoo's first-party pretrained weights: one folder per entry (``entry.json`` plus the files it lists).

Installed with the ``genzoo`` distribution as the ``zoo_registry`` package; ``zoo.entries_from_folder()`` reads
it. See README.md here for the entry schema and how entries are made.
"""
