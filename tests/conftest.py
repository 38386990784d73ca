"""The test suite grades fresh every time: the results cache (deploycheck/cache.py) is off for every
run the tests start, except in tests/test_cache.py, which points it at its own directory."""
import os

os.environ["DEPLOYCHECK_NO_CACHE"] = "1"
