"""The Dockerfile and the systemd unit keep their promises (no Docker engine runs here)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_dockerfile_runs_as_non_root_with_a_volume_and_a_health_check() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    final_stage = text.rsplit("FROM ", 1)[1]
    assert "USER quartierbot" in final_stage
    assert 'VOLUME ["/data"]' in final_stage
    assert 'CMD ["quartierbot", "health"]' in final_stage
    assert "STOPSIGNAL SIGTERM" in final_stage
    assert 'ENTRYPOINT ["quartierbot"]' in final_stage
    # The image runs on exactly the locked versions CI tested.
    assert "pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock" in final_stage
    assert "--no-deps" in final_stage
    # Everything the package needs at run time is copied into the build stage.
    for folder in ("bot", "handlers", "storage", "locales"):
        assert f"COPY {folder} ./{folder}" in text
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert "config.toml" in ignored and "*.sqlite3*" in ignored  # no secrets or data in images


def test_systemd_unit() -> None:
    unit = (ROOT / "deploy" / "quartierbot.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/quartierbot/bin/quartierbot run" in unit
    assert "EnvironmentFile=/etc/quartierbot/env" in unit  # the token is not in the unit
    assert "KillSignal=SIGTERM" in unit and "Restart=on-failure" in unit
    assert "User=quartierbot" in unit and "ProtectSystem=strict" in unit


def test_the_backup_unit_is_hardened_and_rotates() -> None:
    unit = (ROOT / "deploy" / "quartierbot-backup.service").read_text(encoding="utf-8")
    for setting in (
        "UMask=0077",
        "ProtectSystem=strict",
        "NoNewPrivileges=true",
        "PrivateTmp=true",
    ):
        assert setting in unit, setting
    assert "quartierbot backup --keep 14" in unit
