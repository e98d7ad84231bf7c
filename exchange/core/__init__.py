"""Service configuration (``exchange.core.config.Settings``)."""
