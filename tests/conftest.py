"""The test suite grades fresh every time: the results cache (deploycheck/cache.py) is off for every
run the tests start, except in tests/test_cache.py, which points it at its own directory.

No test downloads a Python: a missing one is an error of the run (tests/runtimes/test_pythons.py
turns downloads on against a local mirror)."""
import os

os.environ["DEPLOYCHECK_NO_CACHE"] = "1"
os.environ["DEPLOYCHECK_PYTHON_DOWNLOADS"] = "never"
