"""Test helpers shipped with Interlink: an upstream emulator speaking the real wire formats (`emulator`)."""
