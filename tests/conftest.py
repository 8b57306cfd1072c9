import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# Session-scoped Redis and PostgreSQL servers (started only when a test asks for them).
pytest_plugins = ["tests.support.servers"]
