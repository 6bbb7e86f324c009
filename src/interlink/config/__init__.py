"""Configuration: the YAML file's schema (`settings`) and how it is read (`loader`)."""

from interlink.config.loader import ConfigError, load_config
from interlink.config.settings import (
    Config,
    DefaultsConfig,
    ModelConfig,
    ProviderConfig,
    RetryConfig,
    TimeoutsConfig,
)

__all__ = [
    "Config",
    "ConfigError",
    "DefaultsConfig",
    "ModelConfig",
    "ProviderConfig",
    "RetryConfig",
    "TimeoutsConfig",
    "load_config",
]
