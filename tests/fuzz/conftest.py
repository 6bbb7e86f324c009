"""The fuzz suite reuses the contract stack (a real gateway in front of the emulator)."""

from tests.contract.conftest import stack  # noqa: F401
