"""quartierbot: the application layer (configuration, wiring, CLI, i18n, domain services)."""

__version__ = "0.1.0"
