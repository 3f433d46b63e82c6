"""The production profile's engines from Debian's packages, started as child processes on loopback in a folder of
their own: PostgreSQL, Redis and nginx (`make cluster`, tests). Production runs them as system services instead
(deploy/, docs/scaling-out.md). Each `start_*` returns an `Engine`; `Engine.stop()` ends it (PostgreSQL and Redis
keep their data in the folder, so starting again continues from it)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = {"postgresql": "postgresql", "redis-server": "redis-server", "nginx": "nginx-light"}


class EngineError(RuntimeError):
    """An engine is not installed or did not start; the message names it and its log."""


@dataclass
class Engine:
    name: str
    port: int
    folder: Path
    stop_command: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        if self.stop_command:
            subprocess.run(self.stop_command, capture_output=True, timeout=60)
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _as_postgres() -> list[str]:
    """PostgreSQL refuses to run as root: run its commands as the package's postgres account."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _wait_port(port: int, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise EngineError(f"{what} 没有在 {timeout:.0f} 秒内监听端口 {port}，见 {log}")


def _listening(args: list[str], port: int, what: str, log: Path) -> subprocess.Popen[bytes]:
    """Start a server in the foreground (its own session, output to `log`) and wait until it listens on `port`."""
    with open(log, "ab") as output:
        process = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_port(port, 20, what, log)
    except EngineError:
        process.kill()
        raise
    return process


def postgres_bin() -> Path:
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bins:
        raise EngineError("PostgreSQL 未安装：make cluster / make test 会用 apt-get install postgresql 安装")
    return bins[-1]


def start_postgres(folder: Path, port: int, password: str, fast: bool = False) -> Engine:
    """A PostgreSQL server with its data in `folder` (made on first start), on loopback, the `postgres` account
    with `password` (scram-sha-256). `fast` turns fsync off (tests)."""
    bin_dir = postgres_bin()
    folder.mkdir(parents=True, exist_ok=True)
    data, log = folder / "data", folder / "postgres.log"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    if not (data / "PG_VERSION").exists():
        pwfile = folder / "initdb-password"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres")
        try:
            subprocess.run([*_as_postgres(), str(bin_dir / "initdb"), "-D", str(data), "-A", "scram-sha-256", "-U", "postgres",
                            f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8", "--locale", "C.UTF-8"], check=True, capture_output=True)
        finally:
            pwfile.unlink()
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=200" + (" -c fsync=off" if fast else "")
    started = subprocess.run([*_as_postgres(), str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                              "start", "-o", options], capture_output=True, text=True)
    if started.returncode != 0:
        raise EngineError(f"PostgreSQL 没有启动：{started.stderr.strip()[-300:]}，见 {log}")
    return Engine("postgresql", port, folder,
                  stop_command=[*_as_postgres(), str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])


def create_database(port: int, password: str, name: str) -> None:
    """CREATE DATABASE `name` unless it exists (the app and Rasa's tracker store each have their own)."""
    psql = [str(postgres_bin() / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-tAc"]
    env = {**os.environ, "PGPASSWORD": password}
    found = subprocess.run([*psql, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"], capture_output=True, text=True,
                           check=True, env=env)
    if found.stdout.strip() != "1":
        subprocess.run([*psql, f'CREATE DATABASE "{name}"'], capture_output=True, check=True, env=env)


def start_redis(folder: Path, port: int, password: str = "") -> Engine:
    """redis-server on loopback, with its append-only file in `folder` (a restart keeps the keys)."""
    server = shutil.which("redis-server")
    if server is None:
        raise EngineError("redis-server 未安装：make cluster / make test 会用 apt-get install redis-server 安装")
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "redis.log"
    args = [server, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder), "--appendonly", "yes",
            "--save", "", "--daemonize", "no", "--logfile", str(log)]
    if password:
        args += ["--requirepass", password]
    return Engine("redis", port, folder, process=_listening(args, port, "Redis", log))


def start_nginx(folder: Path, port: int, config: str) -> Engine:
    """nginx in the foreground with `config` (a whole nginx.conf) written into `folder`."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise EngineError("nginx 未安装：make cluster 会用 apt-get install nginx-light 安装")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nginx.conf").write_text(config)
    log = folder / "error.log"
    args = [nginx, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"]
    return Engine("nginx", port, folder, process=_listening(args, port, "nginx", log))
