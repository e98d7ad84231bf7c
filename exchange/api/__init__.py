"""The REST API under /v1 (FastAPI): ``exchange.api.main.create_app``."""
