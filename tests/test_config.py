from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import Config, ConfigError, load_config, s3_settings

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_configs_load() -> None:
    assert load_config(ROOT / "config" / "default.yaml") == Config()
    minio = load_config(ROOT / "config" / "minio.yaml")
    assert minio.storage.endpoint == "http://127.0.0.1:9000"


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("output:\n  formt: jsonl\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    message = str(exc.value)
    assert "bad.yaml" in message and "output.formt" in message and "output.format" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("runner: spark\n", "'runner'"),
        ("output:\n  max_rows_per_file: lots\n", "max_rows_per_file"),
        ("enrich:\n  topics: 3\n", "enrich.topics"),
        ("language: [1, 2]\n", "language"),
        ("output: [\n", "not valid YAML"),
    ],
)
def test_mistyped_values_are_one_line_errors(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment):
        load_config(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_config_is_frozen() -> None:
    cfg = Config()
    with pytest.raises(Exception):
        cfg.runner = "flink"  # type: ignore[misc]


def test_s3_secrets_come_from_env_and_never_print() -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value", "AWS_ENDPOINT_URL": "http://h:1"}
    settings = s3_settings(Config(), env)
    assert settings.secret_key == "s3cr3t-value" and settings.endpoint == "http://h:1"
    assert "s3cr3t-value" not in repr(settings) and "s3cr3t-value" not in str(settings)
    assert settings.region == "us-east-1"
