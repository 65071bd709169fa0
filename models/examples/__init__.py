"""Example models that are not protocols of the project (benchmarks, tutorials).

They are not registered by name: run one by path, e.g.
``checker explore models/examples/pcring.py``.
"""
