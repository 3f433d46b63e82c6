"""Command line: `python -m bot kb validate|search|import|versions|diff|rollback|export|import-catalogue|userdict`, `eval`,
`run`, `bench`, `console add-user`, `db upgrade|revision`."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bot.settings import ROOT

if TYPE_CHECKING:
    from bot.db import Database

T = TypeVar("T")


def kb_validate(args: argparse.Namespace) -> int:
    from knowledge.events import EventError, load_events
    from knowledge.loader import load
    from knowledge.schema import Problem
    from knowledge.topics import topics

    kb = load(Path(args.guides), Path(args.catalogue))
    problems: list[Problem | str] = list(kb.problems)
    names = {g.name for g in kb.guides}
    try:
        life_events = load_events(item_names=names)
    except EventError as exc:
        problems.append(f"events/{exc}")
        life_events = ()
    problems += [f"topics.yaml: {t.name}: 知识库没有详细指南“{n}”" for t in topics() for n in t.items if n not in names]
    for problem in problems:
        print(problem)
    guides = len(kb.guides)
    print(f"共 {len(kb.entries)} 个事项（详细指南 {guides} 个）、{len(life_events)} 个“一件事”，发现 {len(problems)} 个问题。", file=sys.stderr)
    return 1 if problems else 0


def kb_search(args: argparse.Namespace) -> int:
    """Search what the app serves: the newest published version in DATABASE_URL (or, with --yaml, the repo's files)."""
    from knowledge import service

    if not args.yaml:
        number = _on_knowledge(lambda database: service.refresh(database, _search_key()))
        if number is None:
            return 1
        print(f"知识库第 {number} 版（{len(service.get_index().entries)} 个事项）", file=sys.stderr)
    hits = service.get_index().search(args.question, top=args.top)
    if args.json:
        print(json.dumps([h.as_dict() for h in hits], ensure_ascii=False, indent=2))
    else:
        for h in hits:
            print(f"{h.score:.3f} {'✔' if h.matched else ' '} {h.entry.name}（{h.entry.department}）")
    return 0


def kb_import_catalogue(args: argparse.Namespace) -> int:
    from knowledge.catalogue_import import import_catalogue

    count = import_catalogue(Path(args.source), Path(args.target))
    print(f"已写入 {count} 个目录事项到 {args.target}")
    return 0


def kb_userdict(args: argparse.Namespace) -> int:
    from knowledge.loader import load
    from knowledge.userdict import write_userdict

    count = write_userdict(load(), Path(args.directory))
    print(f"已写入 {count} 个词到 {args.directory}/userdict.txt")
    return 0


def _on_knowledge(work: Callable[[Database], T]) -> T | int:
    """Run work(database) on the app's database, migrated and with the seed published if it has no knowledge version
    yet; a version that does not exist, or a publish that came in between, is said plainly."""
    from bot.db import Database
    from bot.settings import get_settings
    from knowledge import versions

    database = Database(get_settings().database_url)
    try:
        database.migrate()
        with database.session() as session:
            versions.ensure_seed(db_session=session)
        return work(database)
    except versions.VersionError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        database.engine.dispose()


def _search_key() -> str:
    """The app's secret key: it signs the search model stored with a version (knowledge/fitted.py)."""
    from bot import keys
    from bot.settings import get_settings

    return keys.with_secrets(get_settings()).secret_key.get_secret_value()


def _author(args: argparse.Namespace) -> str:
    import getpass

    return args.by or getpass.getuser()


def kb_import(args: argparse.Namespace) -> int:
    from knowledge import fitted, versions
    from knowledge.importer import plan

    def work(database: Database) -> int:
        with database.session() as session:
            base = versions.latest_number(db_session=session)
            current = versions.content_of(db_session=session)
        result = plan([Path(f) for f in args.files], current, replace=args.replace, progress=True)
        print("\n".join(result.report(None if args.full else 20)))
        if not result.ok:
            print(f"发现 {len(result.problems)} 个错误，未导入任何内容；当前发布的仍是第 {base} 版。", file=sys.stderr)
            return 1
        assert result.content is not None and base is not None  # an ok plan has content; the seed is a version
        if not result.diff:
            print(f"与第 {base} 版相同，无需发布。")
            return 0
        if args.dry_run:
            print(f"试运行（--dry-run）：未发布，当前发布的仍是第 {base} 版。")
            return 0
        print("正在生成检索索引（各应用进程将直接使用，无需各自重建）…", flush=True)
        model = fitted.fit(result.content, _search_key())[1]
        with database.session() as session:
            number = versions.publish_on(db_session=session, base=base, content=result.content, author=_author(args),
                                         reason=args.why or f"导入 {'、'.join(result.files)}",
                                         source="import:" + ",".join(result.files), search_model=model)
        print(f"已发布第 {number} 版（{len(result.content.items)} 个事项）。运行中的应用几秒内改用新版本，无需重启，也无需重新训练。")
        return 0

    return _on_knowledge(work)


def kb_versions(args: argparse.Namespace) -> int:
    from knowledge import versions

    def work(database: Database) -> int:
        with database.session() as session:
            for info in versions.versions(db_session=session):
                print(info.line())
        return 0

    return _on_knowledge(work)


def kb_diff(args: argparse.Namespace) -> int:
    from knowledge import versions
    from knowledge.diff import diff

    def work(database: Database) -> int:
        with database.session() as session:
            old = versions.content_of(db_session=session, number=args.a)
            new = versions.content_of(db_session=session, number=args.b)
        print(f"第 {args.a} 版 → 第 {args.b} 版：")
        print("\n".join(diff(old, new).lines(None if args.full else 20)))
        return 0

    return _on_knowledge(work)


def kb_rollback(args: argparse.Namespace) -> int:
    from knowledge import versions

    def work(database: Database) -> int:
        with database.session() as session:
            number = versions.rollback(db_session=session, number=args.number, author=_author(args), reason=args.why or "")
        print(f"已把第 {args.number} 版重新发布为第 {number} 版。运行中的应用几秒内改用它。")
        return 0

    return _on_knowledge(work)


def kb_export(args: argparse.Namespace) -> int:
    from knowledge import versions

    def work(database: Database) -> int:
        with database.session() as session:
            number = args.version or versions.latest_number(db_session=session)
            content = versions.content_of(db_session=session, number=number)
        guides, catalogue = content.export(Path(args.directory))
        pinned = f"，pinned.yaml 中 {len(content.pinned)} 条人工答复" if content.pinned else ""
        print(f"已导出第 {number} 版到 {args.directory}：guides/ 下 {guides} 个办事指南，catalogue.yaml 中 {catalogue} 个目录事项，"
              f"events/ 下 {len(content.events)} 个“一件事”{pinned}。")
        return 0

    return _on_knowledge(work)


def run_eval(args: argparse.Namespace) -> int:
    """The short-question set (search, intents, BM25 baseline), then the independent sets through the whole dialogue."""
    import datetime as dt
    import json
    import tempfile

    from bot import eval_dialogue
    from bot.appeals import evaluation as appeal_evaluation
    from bot.evaluation import knowledge_scale, main
    from bot.launcher import Stack, free_port

    main(Path(args.questions), rasa_url=args.rasa_url, intents=not args.no_intents)
    scale = knowledge_scale(eval_dialogue.situation_questions())
    appeals = appeal_evaluation.main(show_misses="tune" if args.misses else None)
    if args.no_dialogue:
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        # A fixed "today" (a Tuesday morning in an ordinary working week): the conversations' "下周一", "这周六上午"
        # and "后天下午" name the same bookable slots whenever the evaluation runs.
        start = dt.datetime.fromisoformat(args.clock_start)
        env = {"DATABASE_URL": f"sqlite:///{scratch}/eval.db", "CLOCK_START": args.clock_start}
        with Stack(free_port(), free_port(), extra_env=env, tag="-eval") as stack:
            figures = eval_dialogue.main(stack.url, splits=("tune", *eval_dialogue.DEV_SPLITS, "held_out"), show_misses="tune" if args.misses else None,
                                         today=start.date(), database_url=env["DATABASE_URL"])
    out = ROOT / "var" / "eval-dialogue.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({**figures, "knowledge_scale": scale, "appeals": appeals}, ensure_ascii=False, indent=2))
    print(f"逐项数字已写入 {out}")
    return 0


def run_stack(args: argparse.Namespace) -> int:
    import signal
    import time

    from bot.launcher import Stack, busy_ports
    from bot.settings import get_settings

    settings = get_settings()
    busy = busy_ports([settings.port, *range(settings.rasa_port, settings.rasa_port + settings.rasa_replicas)])
    if busy:  # a second `make run`: say so instead of printing URLs another instance serves
        print(f"端口 {'、'.join(map(str, busy))} 已被占用：助手可能已经在 http://127.0.0.1:{settings.port}/ 运行"
              f"（日志见 var/log/）。请先停止它，或用 PORT=… RASA_PORT=… 换用其他端口。", file=sys.stderr)
        return 1
    with Stack(settings.port, settings.rasa_port, rasa_replicas=settings.rasa_replicas) as stack:
        print(f"网页聊天：{stack.url}/    办事指南：{stack.url}/guides")
        print(f"运营控制台：{stack.url}/console")
        print(f"API 文档：{stack.url}/docs")
        print(f"聊天接口：POST {stack.url}/api/chat")
        print(f"健康检查：{stack.url}/healthz")
        print("按 Ctrl+C 停止。", flush=True)
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
        try:
            app = stack.app
            assert app is not None  # started by the Stack
            while not stopping and app.poll() is None and all(r.poll() is None for r in stack.rasas):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from bot.bench import main

    return main(small=args.small, replicas=args.replicas)


def console_add_user(args: argparse.Namespace) -> int:
    import getpass

    from bot.db import Database
    from bot.errors import AppError
    from bot.handoff import accounts
    from bot.handoff.models import ROLES
    from bot.settings import get_settings

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("密码（至少10位，含字母和数字）：")
        if getpass.getpass("再输入一次：") != password:
            print("两次输入的密码不一致。", file=sys.stderr)
            return 1
    database = Database(get_settings().database_url)
    database.migrate()
    try:
        with database.session() as session:
            if args.department:
                from bot.appeals.routing import Routing
                if args.department not in Routing.load().departments:
                    raise AppError(f"没有代码为 {args.department} 的承办部门（见 bot/appeals/routing.yaml）")
            operator = accounts.create_operator(db_session=session, username=args.username, password=password, role=args.role,
                                                display_name=args.display_name, department=args.department or None)
            print(f"已创建{ROLES[operator.role]}账号 {operator.username}（{operator.display_name}）。")
    except AppError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        database.engine.dispose()
    return 0


def db_upgrade(args: argparse.Namespace) -> int:
    from bot.db import Database
    from bot.settings import get_settings

    database = Database(get_settings().database_url)
    database.migrate()
    database.engine.dispose()
    print("数据库结构已是最新版本。")
    return 0


def db_revision(args: argparse.Namespace) -> int:
    from bot.db import new_revision

    print(f"已生成迁移脚本 {new_revision(args.message)}，请检查后提交。")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="夹江县12345政务服务智能助手")
    sub = parser.add_subparsers(dest="command", required=True)
    kb = sub.add_parser("kb", help="知识库").add_subparsers(dest="kb_command", required=True)
    p = kb.add_parser("validate", help="校验全部办事指南和目录，逐条列出问题")
    p.add_argument("--guides", default=str(ROOT / "knowledge" / "guides"))
    p.add_argument("--catalogue", default=str(ROOT / "knowledge" / "catalogue.yaml"))
    p.set_defaults(func=kb_validate)
    p = kb.add_parser("search", help="检索事项")
    p.add_argument("question")
    p.add_argument("--top", type=int, default=3)
    p.add_argument("--json", action="store_true")
    p.add_argument("--yaml", action="store_true", help="检索仓库里的 YAML（种子数据），而不是已发布的最新版本")
    p.set_defaults(func=kb_search)
    p = kb.add_parser("import-catalogue", help="从四川省事项目录 JSON 生成 knowledge/catalogue.yaml")
    p.add_argument("source")
    p.add_argument("--target", default=str(ROOT / "knowledge" / "catalogue.yaml"))
    p.set_defaults(func=kb_import_catalogue)
    p = kb.add_parser("userdict", help="从事项名称和别名生成 jieba 用户词典（供 Rasa 分词）")
    p.add_argument("--directory", default=str(ROOT / "nlu_data" / "jieba"))
    p.set_defaults(func=kb_userdict)
    p = kb.add_parser("import", help="导入办事指南（CSV、XLSX、JSON/JSONL、YAML 文件或文件夹）：先校验、列出差异，再发布为新版本")
    p.add_argument("files", nargs="+", help="一个或多个文件（多个文件合并为一个版本）")
    p.add_argument("--dry-run", action="store_true", help="只校验并列出差异，不发布")
    p.add_argument("--replace", action="store_true", help="文件即全部事项：文件中没有的事项将被删除（默认只新增和更新）")
    p.add_argument("--by", default="", help="发布人姓名（默认当前系统用户）")
    p.add_argument("--why", default="", help="发布原因，例如“2026年12月省平台导出”")
    p.add_argument("--full", action="store_true", help="列出全部差异和提示（默认每类最多 20 条）")
    p.set_defaults(func=kb_import)
    p = kb.add_parser("versions", help="列出知识库版本（最新在前，每行以版本号开头）")
    p.set_defaults(func=kb_versions)
    p = kb.add_parser("diff", help="比较两个版本：新增、修改的字段、删除")
    p.add_argument("a", type=int)
    p.add_argument("b", type=int)
    p.add_argument("--full", action="store_true")
    p.set_defaults(func=kb_diff)
    p = kb.add_parser("rollback", help="把第 N 版重新发布为最新版本")
    p.add_argument("number", type=int)
    p.add_argument("--by", default="")
    p.add_argument("--why", default="")
    p.set_defaults(func=kb_rollback)
    p = kb.add_parser("export", help="把发布的版本导出为仓库的 YAML 格式（DIR/guides/*.yaml、DIR/catalogue.yaml、DIR/events/*.yaml，有人工答复时还有 DIR/pinned.yaml）")
    p.add_argument("directory")
    p.add_argument("--version", type=int, default=None, help="导出哪一版（默认最新）")
    p.set_defaults(func=kb_export)
    p = sub.add_parser("eval", help="评测事项识别、拒答和意图准确率（与 BM25 基线对比）")
    p.add_argument("--questions", default=str(ROOT / "tests" / "eval" / "questions.yml"))
    p.add_argument("--rasa-url", default=None, help="已运行的 Rasa；不给则自动启动")
    p.add_argument("--no-intents", action="store_true", help="只评测检索，不启动 Rasa")
    p.add_argument("--no-dialogue", action="store_true", help="不跑独立编写的情境问题和多轮对话（需要启动整套服务）")
    p.add_argument("--misses", action="store_true", help="列出调优集上未通过的问题（留出集从不列出）")
    p.add_argument("--clock-start", default="2026-12-08T09:30:00", help="评测时服务的“现在”（县城时间，固定在普通工作周的周二上午）")
    p.set_defaults(func=run_eval)
    p = sub.add_parser("run", help="启动 Rasa 和应用")
    p.set_defaults(func=run_stack)
    p = sub.add_parser("bench", help="性能基准")
    p.add_argument("--small", action="store_true", help="小规模（CI 用）")
    p.add_argument("--replicas", type=int, default=2, help="多 Rasa 进程一档的进程数（1 则不测这一档）")
    p.set_defaults(func=run_bench)
    console = sub.add_parser("console", help="坐席工作台").add_subparsers(dest="console_command", required=True)
    p = console.add_parser("add-user", help="新建坐席或管理员账号（密码以 argon2 存储）")
    p.add_argument("username")
    p.add_argument("--role", choices=["operator", "admin", "department"], default="operator")
    p.add_argument("--department", default="", help="承办部门账号的部门代码（bot/appeals/routing.yaml），例如 zhujian")
    p.add_argument("--display-name", default="", help="群众看到的称呼，例如“12号坐席”")
    p.add_argument("--password-stdin", action="store_true", help="从标准输入读密码（脚本用），否则交互输入")
    p.set_defaults(func=console_add_user)
    db = sub.add_parser("db", help="数据库结构（Alembic 迁移）").add_subparsers(dest="db_command", required=True)
    p = db.add_parser("upgrade", help="把 DATABASE_URL 的数据库升级到最新版本（应用启动时也会自动执行）")
    p.set_defaults(func=db_upgrade)
    p = db.add_parser("revision", help="修改 bot/*/models.py 后，生成从最新版本到当前模型的迁移脚本")
    p.add_argument("message")
    p.set_defaults(func=db_revision)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
