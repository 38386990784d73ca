# Loads the deploycheck pytest plugin when pytest runs from a checkout. When the package
# is installed, the same module is also registered through the `pytest11` entry point under
# the same name, so pytest loads it only once.
pytest_plugins = ["deploycheck.plugin"]
