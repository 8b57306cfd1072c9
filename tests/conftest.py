import pytest

# Session-scoped Redis and PostgreSQL servers (started only when a test asks for them).
pytest_plugins = ["tests.support.servers"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True, scope="session")
def _state_directory(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The report database defaults to the XDG state directory: tests never write into the real one."""
    import os

    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))
