"""Hot reload across processes: two app processes on one SQLite database serve a version published by `kb import`
within 10 seconds, without a restart (no Rasa is needed for the knowledge API)."""
import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from support import ROOT

from bot.launcher import free_port, start_app, stop

NEW_ITEM = "夹江县热加载测试事项"


def wait_for_knowledge(url: str, process: subprocess.Popen, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the app process stopped"
        try:
            body = httpx.get(f"{url}/healthz", timeout=5).json()  # 503 without Rasa, but it says the knowledge version
            if body.get("knowledge_version"):
                return body
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not load the knowledge")


@pytest.fixture
def apps(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}", "KNOWLEDGE_POLL_SECONDS": "2"}
    ports = [free_port(), free_port()]
    processes = [start_app(port, free_port(), log_name=f"app-hot-reload-{n}.log", extra_env=env) for n, port in enumerate(ports)]
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url, process in zip(urls, processes):
            assert wait_for_knowledge(url, process)["knowledge_version"] == 1  # the seed, published once for both
        yield urls, env
    finally:
        for process in processes:
            stop(process)


def guide(url: str, name: str) -> dict | None:
    hits = httpx.get(f"{url}/api/guides/search", params={"q": name, "top": 1}, timeout=10).json()
    if not hits or hits[0]["name"] != name:
        return None
    return httpx.get(f"{url}/api/guides/{hits[0]['id']}", timeout=10).json()


def test_a_published_version_is_served_by_every_app_process_within_ten_seconds(apps, tmp_path):
    urls, env = apps
    assert all(guide(url, NEW_ITEM) is None for url in urls)
    birth_id = httpx.get(f"{urls[1]}/api/guides/search", params={"q": "出生登记", "top": 1}).json()[0]["id"]
    csv = tmp_path / "update.csv"
    csv.write_text("事项名称,实施主体,事项类型,是否收费,收费标准\n"
                   f"{NEW_ITEM},夹江县测试局,公共服务,否,\n"
                   "补领结婚证,夹江县民政局,行政确认,是,工本费9元（热加载测试）\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "bot", "kb", "import", str(csv), "--by", "测试员", "--why", "热加载"],
                            cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "已发布第 2 版" in result.stdout, result.stdout + result.stderr
    published = time.monotonic()
    seen = {}
    while len(seen) < len(urls) and time.monotonic() - published < 30:
        for url in urls:
            if url not in seen and httpx.get(f"{url}/healthz", timeout=5).json()["knowledge_version"] == 2:
                seen[url] = time.monotonic() - published
        time.sleep(0.2)
    assert len(seen) == 2 and max(seen.values()) <= 10, seen
    for url in urls:
        assert guide(url, NEW_ITEM)["fields"]["实施主体"] == "夹江县测试局"
        assert guide(url, "补领结婚证")["fields"]["收费标准"] == "工本费9元（热加载测试）"
        assert httpx.get(f"{url}/api/guides/{birth_id}").status_code == 200  # a merge import removes nothing
    # the citizens' guide pages and `kb search` show the published version, not the repo's YAML
    new_id = httpx.get(f"{urls[0]}/api/guides/search", params={"q": NEW_ITEM, "top": 1}).json()[0]["id"]
    page = httpx.get(f"{urls[0]}/guides/{new_id}", timeout=10)
    assert page.status_code == 200 and NEW_ITEM in page.text and "夹江县测试局" in page.text
    assert NEW_ITEM in httpx.get(f"{urls[1]}/guides", params={"q": NEW_ITEM}, timeout=10).text

    def kb_search(*extra):
        out = subprocess.run([sys.executable, "-m", "bot", "kb", "search", NEW_ITEM, "--top", "1", "--json", *extra],
                             cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)[0]["name"]

    assert kb_search() == NEW_ITEM
    assert kb_search("--yaml") != NEW_ITEM
