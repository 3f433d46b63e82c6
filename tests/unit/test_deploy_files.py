"""deploy/ stays in step with the code: the nginx site is what bot/cluster.py generates and nginx accepts it, the
environment examples name real settings and every variable Rasa's production endpoints read, and the systemd units
start files that exist."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support import ROOT

from bot.cluster import NGINX_MAIN, main, nginx_site
from bot.settings import Settings

DEPLOY = ROOT / "deploy"


def test_the_nginx_site_is_the_generated_one(capsys):
    main(["nginx-site"])
    assert (DEPLOY / "nginx-site.conf").read_text() == capsys.readouterr().out


@pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(), reason="nginx not installed")
def test_nginx_accepts_the_site(tmp_path):
    for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / "tmp" / temp).mkdir(parents=True)
    site = nginx_site(["127.0.0.1:8001", "127.0.0.1:8002"], "127.0.0.1:18080", "127.0.0.1:18081")
    (tmp_path / "nginx.conf").write_text(NGINX_MAIN.format(folder=tmp_path, site=site))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    checked = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def _names(path: Path) -> list[str]:
    return [line.split("=", 1)[0] for line in path.read_text().splitlines() if re.match(r"^[A-Z_]+=", line)]


def test_the_app_environment_names_real_settings():
    fields = {name.upper() for name in Settings.model_fields}
    assert set(_names(DEPLOY / "app.env.example")) <= fields


def test_the_rasa_environment_sets_every_variable_of_the_endpoints():
    wanted = set(re.findall(r"\$\{([A-Z_]+)\}", (DEPLOY / "rasa-endpoints.yml").read_text()))
    assert wanted == set(_names(DEPLOY / "rasa.env.example"))


def test_the_units_start_files_that_exist():
    for unit in (DEPLOY / "systemd").glob("*.service"):
        text = unit.read_text()
        for path in re.findall(r"(?:bot/[a-z_]+\.py|deploy/[a-z-]+\.yml|credentials\.yml)", text):
            assert (ROOT / path).exists(), f"{unit.name} names {path}"
        assert "EnvironmentFile=/etc/jj12345/" in text
