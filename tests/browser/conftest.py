"""Browser tests: the real app and the real trained Rasa model, driven through Debian's Chromium by
Playwright (never `playwright install`: `make test` installs the `chromium` package when missing).
Screenshots go to tests/output/ (not committed) so a person can look at the pages."""
import shutil
from pathlib import Path

import httpx
import pytest

from bot.launcher import Stack, free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
OUTPUT = Path(__file__).resolve().parent.parent / "output"
PUSH_KEY = "browser-test-push-key-0123456789"
DESKTOP = {"width": 1280, "height": 860}
CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD = "admin", "Browser-admin-2026"


@pytest.fixture(scope="session")
def web_stack(tmp_path_factory):
    db = tmp_path_factory.mktemp("browser-db") / "app.db"
    env = {"DATABASE_URL": f"sqlite:///{db}", "PUSH_API_KEY": PUSH_KEY, "SECRET_KEY": "browser-test-secret-key",
           "CONSOLE_ADMIN_USER": CONSOLE_ADMIN, "CONSOLE_ADMIN_PASSWORD": CONSOLE_ADMIN_PASSWORD}  # the operator console's tests
    with Stack(free_port(), free_port(), extra_env=env, tag="-browser") as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module: Playwright's sync API keeps an asyncio loop running on this thread
    while it is open, so it must be closed before other modules' tests call asyncio.run()."""
    if not Path(CHROMIUM).exists():
        pytest.fail("没有找到 Debian 的 chromium：请运行 make test（会自动 apt-get install chromium fonts-noto-cjk）")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, web_stack):
    """new_page(viewport=DESKTOP, **context options) → a page in a fresh browser profile (own storage)."""
    contexts = []

    def make(viewport=DESKTOP, **options):
        context = browser.new_context(viewport=viewport, base_url=web_stack.url, locale="zh-CN", **options)
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def push(web_stack):
    """push(conversation_id, text, sender="operator") through the app's push endpoint (like the operator console)."""
    client = httpx.Client(base_url=web_stack.url, timeout=30, headers={"Authorization": f"Bearer {PUSH_KEY}"})

    def send(conversation_id: str, text: str, sender: str = "operator") -> dict:
        response = client.post(f"/internal/push/{conversation_id}", json={"text": text, "sender": sender})
        assert response.status_code == 200, response.text
        return response.json()

    yield send
    client.close()


@pytest.fixture
def shot():
    """shot(page, name, full_page=False) saves tests/output/{name}.png."""

    def save(page, name: str, full_page: bool = False) -> Path:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        path = OUTPUT / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return save
