"""The REST API (FastAPI): `baton.api.app.create_app`."""
