"""deploy/feedtool-serve.service and deploy/nginx.conf: checked without systemd or nginx
running (`systemd-analyze verify` and `nginx -t` when installed)."""

from __future__ import annotations

import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.test_deploy import DEPLOY, HARDENING, INSTALLED_BIN, one, parse_unit

SERVE_UNIT = DEPLOY / "feedtool-serve.service"


def test_the_serve_unit_is_hardened_like_the_daemons() -> None:
    unit = parse_unit(SERVE_UNIT)
    argv = shlex.split(one(unit, "Service", "ExecStart"))
    assert argv == [INSTALLED_BIN, "serve", "--host", "127.0.0.1", "--port", "8080"]
    for key, want in HARDENING.items():
        got = one(unit, "Service", key)
        assert want is None or got == want, key
    daemon = parse_unit(DEPLOY / "feedtool.service")["Service"]
    ignore = {"ExecStart", "ExecReload", "EnvironmentFile"}  # serve needs no reload, no secrets
    assert {kv for kv in daemon if kv[0] not in ignore} == {
        kv for kv in unit["Service"] if kv[0] not in ignore
    }
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


def test_systemd_analyze_verify_serve_unit(tmp_path: Path) -> None:
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.skip("systemd-analyze not installed")
    fake = tmp_path / "feedtool"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    copy = tmp_path / SERVE_UNIT.name
    copy.write_text(SERVE_UNIT.read_text().replace(INSTALLED_BIN, str(fake)))
    proc = subprocess.run(
        [exe, "verify", "--man=no", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert SERVE_UNIT.name not in proc.stderr, proc.stderr


def test_nginx_example_sets_feed_types_validators_and_gzip(tmp_path: Path) -> None:
    text = (DEPLOY / "nginx.conf").read_text()
    for wanted in (
        "default_type application/atom+xml;",
        "default_type application/rss+xml;",
        "default_type application/feed+json;",
        "charset_types application/atom+xml application/rss+xml application/feed+json",
        "etag on;",
        "gzip_vary on;",
        "disable_symlinks",
    ):
        assert wanted in text
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        pytest.skip("nginx not installed: syntax not checked")
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid; error_log stderr;\n"
        f"events {{}}\nhttp {{ access_log off; include {DEPLOY / 'nginx.conf'}; }}\n"
    )
    proc = subprocess.run(
        [nginx, "-t", "-q", "-c", str(main), "-p", str(tmp_path), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
