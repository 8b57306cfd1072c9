"""Configuration: defaults < TOML < environment < flags, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from filter_proxy.config import Config, ConfigError, load_config, to_env

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "filter-proxy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_valid_and_need_no_file() -> None:
    config = load_config(env={})
    assert config == Config().validate()
    assert config.server.port == 8080
    assert config.upstream.url is None
    assert config.sink.kind == "none"


def test_example_file_loads() -> None:
    config = load_config(ROOT / "filter-proxy.example.toml", env={}, require_upstream=True)
    assert config.upstream.url == "http://127.0.0.1:9200"
    assert config.upstream.adapter == "elasticsearch"
    assert config.source and config.source.endswith("filter-proxy.example.toml")


def test_precedence_defaults_file_env_flags(tmp_path: Path) -> None:
    path = write(tmp_path, """
[server]
port = 9000
workers = 2
[upstream]
url = "http://127.0.0.1:9200"
adapter = "solr"
""")
    env = {"FILTER_PROXY_SERVER_PORT": "9100", "FILTER_PROXY_UPSTREAM_ADAPTER": "typesense"}
    config = load_config(path, env=env, overrides={"server.port": 9200, "upstream.url": None})
    assert config.server.port == 9200  # flag beats env beats file
    assert config.upstream.adapter == "typesense"  # env beats file
    assert config.server.workers == 2  # file beats default
    assert config.upstream.url == "http://127.0.0.1:9200"  # a None flag means "not given"
    assert config.server.host == "127.0.0.1"  # default


def test_env_parses_lists_tables_booleans_and_numbers() -> None:
    env = {
        "FILTER_PROXY_ROUTES_SEARCH_PATHS": "/search, /*/_search",
        "FILTER_PROXY_FIELDS_IMAGE_HASH": "phash=thumb_phash,dhash=thumb_dhash",
        "FILTER_PROXY_RULES_WATCH": "off",
        "FILTER_PROXY_UPSTREAM_TIMEOUT": "2.5",
        "FILTER_PROXY_SINK_MAX_BYTES": "1234",
        "FILTER_PROXY_CONFIG": "ignored.toml",  # the factory's variable, not a key
        "FILTER_PROXY_DEMOTHING_X": "1",  # another tool's variable: not ours, ignored
    }
    config = load_config(env=env)
    assert config.routes.search_paths == ["/search", "/*/_search"]
    assert config.fields.image_hash == {"phash": "thumb_phash", "dhash": "thumb_dhash"}
    assert config.rules.watch is False
    assert config.upstream.timeout == 2.5
    assert config.sink.max_bytes == 1234


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[sever]\nport = 1", "sever"),
        ("[server]\nprot = 1", "server.prot"),
        ("[server]\nport = \"eighty\"", "server.port"),
        ("[server]\nport = 70000", "server.port"),
        ("[server]\nworkers = 0", "server.workers"),
        ("[upstream]\nurl = \"ftp://127.0.0.1/\"", "upstream.url"),
        ("[upstream]\ntimeout = -1", "upstream.timeout"),
        ("[rules]\nwatch = \"yes\"", "rules.watch"),
        ("[routes]\nsearch_paths = [\"search\"]", "routes.search_paths"),
        ("[report]\nbucket = \"week\"", "report.bucket"),
        ("[sink]\nkind = \"email\"", "sink.kind"),
        ("[sink]\nkind = \"webhook\"", "sink.url"),
        ("[logging]\nlevel = \"LOUD\"", "logging.level"),
        ("server = 1", "server"),
    ],
)
def test_bad_file_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: ")


def test_bad_env_value_names_key_and_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env={"FILTER_PROXY_SERVER_PORT": "eighty"})
    assert info.value.key == "server.port"
    assert "FILTER_PROXY_SERVER_PORT" in str(info.value)


def test_misspelt_env_key_in_a_known_section_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env={"FILTER_PROXY_UPSTREAM_ULR": "http://127.0.0.1:1"})
    assert info.value.key == "upstream.ulr"


def test_unparsable_toml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config: .*filter-proxy.toml"):
        load_config(write(tmp_path, "[server\n"), env={})
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml", env={})


def test_upstream_required_only_when_asked() -> None:
    load_config(env={})
    with pytest.raises(ConfigError) as info:
        load_config(env={}, require_upstream=True)
    assert info.value.key == "upstream.url"


def test_log_level_is_normalised() -> None:
    assert load_config(env={"FILTER_PROXY_LOGGING_LEVEL": "debug"}).logging.level == "DEBUG"


def test_admin_token_sources_file_then_env_then_inline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("file-token-0123456789\n")
    monkeypatch.setenv("MY_ADMIN_TOKEN", "env-token-0123456789")
    config = load_config(write(tmp_path, f"""
[admin]
token_env = "MY_ADMIN_TOKEN"
token_file = "{token_file}"
token = "inline-token-0123456789"
"""), env={})
    assert config.admin.resolve_token() == "file-token-0123456789"
    config.admin.token_file = None
    assert config.admin.resolve_token() == "env-token-0123456789"
    monkeypatch.delenv("MY_ADMIN_TOKEN")
    assert config.admin.resolve_token() == "inline-token-0123456789"
    config.admin.token = None
    assert config.admin.resolve_token() is None  # no token: /-/reload disabled


def test_admin_token_errors(tmp_path: Path) -> None:
    config = load_config(env={})
    config.admin.token = "short"
    with pytest.raises(ConfigError, match="admin.token: .*too short"):
        config.admin.resolve_token()
    config.admin.token_file = str(tmp_path / "nope")
    with pytest.raises(ConfigError, match="admin.token_file: cannot read"):
        config.admin.resolve_token()
    (tmp_path / "empty").write_text("  \n")
    config.admin.token_file = str(tmp_path / "empty")
    with pytest.raises(ConfigError, match="admin.token_file: .* is empty"):
        config.admin.resolve_token()


def test_flags_round_trip_through_env_for_worker_processes() -> None:
    overrides = {"upstream.url": "http://127.0.0.1:7700", "server.workers": 3, "rules.path": "b.bundle",
                 "rules.watch": False, "routes.search_paths": ["/a", "/b"], "server.host": None}
    env = to_env(overrides)
    assert env == {
        "FILTER_PROXY_UPSTREAM_URL": "http://127.0.0.1:7700",
        "FILTER_PROXY_SERVER_WORKERS": "3",
        "FILTER_PROXY_RULES_PATH": "b.bundle",
        "FILTER_PROXY_RULES_WATCH": "false",
        "FILTER_PROXY_ROUTES_SEARCH_PATHS": "/a,/b",
    }
    from_env = load_config(env=env)
    direct = load_config(env={}, overrides=overrides)
    assert from_env == direct
