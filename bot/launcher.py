"""Start and stop Rasa and the app as child processes (used by `make run`, tests and the benchmark)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bot import keys
from bot.settings import ROOT, Settings

RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
RASA_PY = ROOT / ".venv-rasa" / "bin" / "python"
RASA_SERVER = ROOT / "bot" / "rasa_server.py"  # `rasa run` with the action-response validator compiled once
MODEL = ROOT / "models" / "current.tar.gz"
LOG_DIR = ROOT / "var" / "log"


def run_is_free(base: int, count: int, avoid: tuple[int, ...] = ()) -> bool:
    """Whether ports base .. base+count-1 can all be bound on loopback now and none is in `avoid`."""
    ports = range(base, base + count)
    if any(p in avoid or p > 65535 for p in ports):
        return False
    try:
        for p in ports:
            with socket.socket() as s:
                s.bind(("127.0.0.1", p))
    except OSError:
        return False
    return True


def busy_ports(ports: list[int]) -> list[int]:
    """The ports that cannot be bound on loopback now (another process holds them)."""
    return [p for p in ports if not run_is_free(p, 1)]


def free_port(count: int = 1, avoid: tuple[int, ...] = ()) -> int:
    """A loopback port such that it and the `count - 1` ports after it are free now (Rasa replicas take
    consecutive ports), none of them in `avoid` (ports already handed out but not yet bound)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base: int = s.getsockname()[1]
        if run_is_free(base, count, avoid):
            return base
    raise StartError(f"找不到 {count} 个连续的空闲端口")


class StartError(RuntimeError):
    """A child process did not become ready; the message names its log file."""


def _spawn(args: list[str], env: dict[str, Any], log_name: str) -> subprocess.Popen[bytes]:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = open(LOG_DIR / log_name, "ab")
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def action_token(extra_env: dict[str, Any] | None = None) -> str:
    """The token Rasa sends to the app's action endpoint (endpoints.yml): ACTION_TOKEN from `extra_env` or the
    environment, else the one generated into var/ (bot/keys.py), so Rasa and the app started here agree."""
    if extra_env and extra_env.get("ACTION_TOKEN"):
        token: str = extra_env["ACTION_TOKEN"]
        return token
    return keys.with_secrets(Settings()).action_token.get_secret_value()


def start_rasa(port: int, action_url: str, model: Path = MODEL, log_name: str = "rasa.log", extra_env: dict[str, Any] | None = None,
               patched: bool = True, endpoints: str = "endpoints.yml") -> subprocess.Popen[bytes]:
    """`rasa run` on loopback; `patched` runs it through bot/rasa_server.py (the benchmark's baseline does not);
    `endpoints` is deploy/rasa-endpoints.yml for the production profile (SQL tracker store, Redis lock store)."""
    if not model.exists():
        raise StartError(f"没有训练好的 Rasa 模型 {model}：请先运行 make model")
    env = {**os.environ, "ACTION_ENDPOINT_URL": action_url, "RASA_TELEMETRY_ENABLED": "false", **(extra_env or {})}
    env["ACTION_TOKEN"] = action_token(extra_env)
    command = [str(RASA_PY), str(RASA_SERVER)] if patched else [str(RASA_BIN)]
    args = command + ["run", "--enable-api", "--model", str(model), "--port", str(port), "-i", "127.0.0.1",
                      "--endpoints", endpoints, "--credentials", "credentials.yml"]
    return _spawn(args, env, log_name)


def start_app(port: int, rasa_port: int, log_name: str = "app.log", extra_env: dict[str, Any] | None = None, workers: int = 1,
              behind_proxy: bool = False) -> subprocess.Popen[bytes]:
    """uvicorn on loopback; `behind_proxy`: the client address is the one the local proxy (nginx) forwards."""
    env = {**os.environ, "PORT": str(port), "RASA_PORT": str(rasa_port), **(extra_env or {})}
    env["ACTION_TOKEN"] = action_token(extra_env)
    args = [sys.executable, "-m", "uvicorn", "bot.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log", "--workers", str(workers)]
    if behind_proxy:
        args += ["--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"]
    return _spawn(args, env, log_name)


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float, log_name: str) -> None:
    """Poll url until it answers 2xx; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StartError(f"{url} 的进程已退出（代码 {process.returncode}），见 {LOG_DIR / log_name}")
        try:
            if httpx.get(url, timeout=2.0).status_code < 300:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise StartError(f"{url} 在 {timeout:.0f} 秒内没有就绪，见 {LOG_DIR / log_name}")


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, 15)
        process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, 9)
        except ProcessLookupError:
            pass


class Stack:
    """The app plus `rasa_replicas` Rasa processes (ports rasa_port, rasa_port+1, ...); a context manager that
    stops them all. Each conversation is pinned to one Rasa process by the app (bot/rasa_client.py)."""

    def __init__(self, app_port: int = 8000, rasa_port: int = 5005, extra_env: dict[str, Any] | None = None, tag: str = "",
                 rasa_replicas: int = 1, model: Path = MODEL, patched: bool = True):
        self.app_port, self.rasa_port, self.extra_env, self.tag = app_port, rasa_port, extra_env or {}, tag
        self.rasa_ports = [rasa_port + i for i in range(max(1, rasa_replicas))]
        self.model, self.patched = model, patched
        self.app: subprocess.Popen[bytes] | None = None
        self.rasas: list[subprocess.Popen[bytes]] = []

    @property
    def rasa(self) -> subprocess.Popen[bytes] | None:
        return self.rasas[0] if self.rasas else None

    def __enter__(self) -> Stack:
        try:
            urls = ",".join(f"http://127.0.0.1:{p}" for p in self.rasa_ports)
            self.app = app = start_app(self.app_port, self.rasa_port, f"app{self.tag}.log", {**self.extra_env, "RASA_URL": urls})
            for n, port in enumerate(self.rasa_ports):
                log = f"rasa{self.tag}{'' if n == 0 else f'-{n + 1}'}.log"
                self.rasas.append(start_rasa(port, f"http://127.0.0.1:{self.app_port}/webhook", self.model, log, patched=self.patched))
            wait_for(f"http://127.0.0.1:{self.app_port}/docs", app, 180, f"app{self.tag}.log")  # fitting the search model on busy cores
            wait_for(f"http://127.0.0.1:{self.app_port}/healthz", self.rasas[0], 240, f"rasa{self.tag}.log")
        except BaseException:
            self.__exit__()
            raise
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    def __exit__(self, *exc: object) -> None:
        stop(self.app)
        for process in self.rasas:
            stop(process)
