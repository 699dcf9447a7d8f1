"""The one error of the configuration: a file or value is not what the schema expects."""


class ConfigError(ValueError):
    """A configuration file or value is not what the schema expects."""
