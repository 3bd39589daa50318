"""Builds the package with its protobuf message classes generated from the
repository's proto/ at build time (grpc_tools.protoc; Debian:
python3-grpc-tools), so `pip install client/python` works from a clean
clone. Everything else is in pyproject.toml."""
import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from generate import PROTO, generate  # noqa: E402


class BuildWithMessages(build_py):
    """build_py, plus tokenvault/_generated/ written into the build tree."""

    def run(self):
        if not os.path.isdir(PROTO):
            raise SystemExit("tokenvault: %s not found: build the package from the repository's "
                             "client/python (it needs ../../proto)" % PROTO)
        super().run()
        generate(os.path.join(self.build_lib, "tokenvault", "_generated"))


setup(cmdclass={"build_py": BuildWithMessages})
