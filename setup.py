from setuptools import find_packages, setup

# twisted/plugins has no __init__.py on purpose (Twisted's plugin directories
# must not have one); naming it here installs kallithea_plugin.py into
# site-packages/twisted/plugins, where twistd looks for the `kallithea` plugin.
setup(
    packages=[*find_packages(include=["kallithead", "kallithead.*"]), "twisted.plugins"]
)
