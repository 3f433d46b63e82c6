"""Compose grounded answers: every fact comes from a knowledge-base field, named with its item,
department and 核对日期; a missing field is said plainly with the way onward."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from knowledge.county import county, way_onward
from knowledge.events import LifeEvent
from knowledge.normalize import simplified
from knowledge.schema import Entry, Material

ASPECTS = ("materials", "procedure", "time_limit", "fee", "location_hours", "online", "visits", "item")
ASPECT_TITLES = {
    "materials": "所需材料", "procedure": "办理流程", "time_limit": "办理时限", "fee": "收费",
    "location_hours": "地点和时间", "online": "网上办理", "visits": "跑几次",
}
ASPECT_INTENTS = {aspect: f"ask_{aspect}" for aspect in ASPECTS}
MAX_OPTIONS = 4  # a clarifying question offers at most this many items
# "晚上能办不", "周六去可以办吗": whether it can be done out of the regular hours
OFF_HOURS = (r"(晚上|傍晚|中午|午休|午间|周六|周日|周末|星期六|星期天|星期日|礼拜六|礼拜天|下班后?|节假日|双休日?).{0,4}"
             r"(能|可以|可不可以|能不能|开不开|有没有人)(办|去|弄|来|交|领|开门|上班)|"
             r"(晚上|傍晚|中午|周六|周末|下班).{0,6}(办|弄)得(到|了|成)|"
             r"(晚上|中午|周六|周日|周末|星期六|星期天|礼拜六|礼拜天|节假日)(也|都|还)?(办不办|开不开门?|上不上班)")
# Words that ask for one aspect, for messages whose intent is something else (a booking that also asks what to bring).
ASPECT_CUES = {
    "materials": re.compile(r"(带|准备|拿)(什么|啥|哪些|些啥|些什么)|交(些|点)(啥子?|什么)(?!费|钱)|要(什么|啥子?)[？?吗呢嘛]*$|要(些|点)(啥子?|什么)(?!手续)|要(什么|啥子?|哪些)(材料|资料|证件|东西)|材料|资料|要不要(拿|带)|"
                            r"原件|复印件|要不要[^，,。？?！!\s]{0,8}(证明|介绍信|报告|照片|户口本)|几张照片|要带.{1,8}(吗|不)|带不带|"
                            r"要.{0,8}(证明|户口本|身份证|照片|合同)(吗|不)"),
    # "要不要交费" asks the fee; "缴费记录", "免费派律师" in a story do not
    "fee": re.compile(r"多少钱|好多钱|收费|收钱|要钱|费用|工本费|手续费|税费|交(什么|啥子?|哪些)(费|钱)|(自己|要)(出|掏)钱|出.{0,3}的钱|(要不要|需不需要|用不用|要)[交缴](费|钱)|[交缴](费|钱)(不|吗)"),
    "time_limit": re.compile(r"多久|来得及|赶得上|提前(几|多久|多长)|[那这]么久|[那这]么长时间|几天|(办理|办结|承诺)?时限|好久|好多天|多长时间|多少天|几个工作日|多少个?工作日|啥时候.{0,4}(拿|好|下来)|当(天|场)就?(能|可以)?(拿|取|办好|出)"),
    "location_hours": re.compile(r"在哪|在那(儿|里)(开|办|交|弄|打|领|拿)|(材料|资料)?(交|送|递)到哪|哪里(办|开|打|领)|哪点|哪儿|(去|到)哪(里|个地方|个部门|个单位|边)(?![都也])|哪里去?(申请|交|换|弄|销|登记|报名)|几点|上班时间|(?<!上的)(?<!上面的)地址|几楼|哪个窗口|周末.{0,3}(上班|开门|办)|哪家|哪个(医院|银行|网点)|"
                                 r"(什么时候|啥子?时候|好久|几时|哪天)(开始|开放)?(报名|受理)|(什么时候|啥子?时候|好久|几时)(开始|开放)(?!发|领|到账|拿)|"
                                 # "在村上能办不 还是要跑县城": done near home or in the county town
                                 r"(在|到|去)(村上|村里|社区|乡镇|镇上|乡上|街道|县城|县上|县里)(就)?(能|可以)(办|弄|交|领|申请)|"
                                 r"(还是|要不要|必须|得|要)(跑|去|到)(县城|县上|县里|政务中心|政务大厅)|"
                                 # "晚上能办不", "周六去可以办吗": whether it is open then
                                 + OFF_HOURS),
    "online": re.compile(r"网上|手机上|线上|网办|APP|app|小程序"),
    "visits": re.compile(r"跑几|几趟|(好多|多少)趟|上门(来|去)?(办|鉴定|服务|采集|拍|受理|评)|(要不要|用不用|需不需要)跑|跑不跑|几次|几回|(?<!第)一(次|趟)(就|都)?(能|可以)?(办|搞|弄)(完|好|结|成|得完|得好)|跑一趟|本人要不要|要本人|本人(去|来|到)|亲自|到场|两个(人)?都.{0,4}去|都要去|一起去|"
                         r"陪(起|着|同)?去|委托.{0,4}(别人|他人|家人)|(喊|让|叫)(?!我去|我来|我自己).{1,6}(帮我|替我|代我)?去|代办|代领|代交|"
                         r"(我|他|她|家人|家属|屋头人|家里人|儿子|女儿|亲戚|别人)(去|来|帮|替)[^，,。？?]{0,4}(要得不|可以不|行不|得不|行吗|可以吗)"),
    # "低保咋个申请", "预防接种证咋个办" name an item and ask about it as a whole: the overview and the steps (_HOW below)
    "procedure": re.compile(r"流程|步骤|程序|怎么办理|先(找|去|在).{1,8}还是|(咋个|怎么|咋|如何)弄|手续(是|有)?(怎样|咋样|怎么样|啥样|什么样)"),
    # who may apply: the overview, which begins with the conditions (受理条件)
    "item": re.compile(r"(满足|符合|申请|办理|什么|哪些|啥子?|有)条件|条件(是|有|要求)|够不够|符不符合|有没有资格|"
                       r"(能不能|可不可以)(领|申请|享受)|"
                       # "医保电子凭证又是啥子", "那重度残疾人护理补贴是咋回事": what the thing is (not "要带的是啥")
                       r"(?<!带的)(?<!拿的)(?<!交的)(?<!准备的)是(咋回事|怎么回事|啥子?|什么)(东西|意思)?[？?呀哦嘛啊]*$"),
}


# "低保咋个申请", "身份证丢了怎么办": how to get it done
_HOW = re.compile(r"(咋个?|怎么|怎样|如何|啷个)样?(去|来|才能)?(新|补|重新)?(办|申请|申领|登记|认定|报名|参保|开通|激活|注销|处理|操作|打印|打(?!不|电话)|迁|签|走|领|补|交|开|换|报|搞|整|弄|注册|销)"
                  r"(?![完好了])|咋办|(办|走)些?(什么|啥子?|哪些)手续")  # "要办啥子手续": how, the conditions and the steps
# "交了材料好久能到账", "资料交齐以后几天": materials already handed in are told, not asked for
_TOLD = re.compile(r"(?<=[交报递送])(了|的|上去?的?)?(申请)?(材料|资料)|(材料|资料)(?=(都|已经|也)?(准备好|交|报|递|送))")
_CLAUSE = re.compile(r"[^，,。？?！!；;\s]+[，,。？?！!；;\s]*")
# a clause that asks: a question mark, a question's last word, or a question word ("要去哪儿重新弄一本")
_ASKING = re.compile(r"[？?]|(吗|不|没|呢|么|没有|不了|得不)[，,。！!；;\s]*$|什么|啥|哪|多少|多久|好久|多长|咋|怎么|怎样|如何|要不要|能不能|"
                     r"可不可以|是不是|有没有|需不需要|用不用|够不够|行不行|可以不|收不收|几(天|趟|个|点|楼|时)")


def aspects_in(text: str) -> list[str]:
    """Every aspect a message asks for in words, in the order asked ("在哪里打？要带身份证吗？" → location_hours,
    materials); where two cues overlap the longer one counts ("好久开始报名" asks when, not how long). In a story the
    question is what is asked, not what is told on the way ("在网上卖自家做的竹编，…，收不收费？" asks the fee): cues in
    clauses that ask come first, and only they count when there are any."""
    said = _TOLD.sub(lambda m: "＿" * len(m.group(0)), simplified(text))
    clauses = list(_CLAUSE.finditer(said))
    asking = [(m.start(), m.end()) for n, m in enumerate(clauses) if n == len(clauses) - 1 or _ASKING.search(m.group(0))]
    spans = sorted((m.start(), m.start() - m.end(), m.end(), aspect)
                   for aspect, cue in ASPECT_CUES.items() for m in cue.finditer(said))
    spans = [s for s in spans if any(start <= s[0] < end for start, end in asking)] or spans
    # "临时救助咋个申请，多久能批": how asked beside another aspect asks the steps too (alone, "咋个申请" is left to the
    # intent and asks the overview and the steps: how_asked)
    how = [(m.start(), m.start() - m.end(), m.end(), "procedure") for m in _HOW.finditer(said)
           if any(start <= m.start() < end for start, end in asking)]
    if how and spans:
        spans = sorted(spans + how)
    taken: list[tuple[int, int]] = []
    order: list[str] = []
    for start, _, end, aspect in spans:
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        if aspect not in order:
            order.append(aspect)
    return order


def also_asked(text: str, aspect: str) -> tuple[str, ...]:
    """The aspects a message asks besides the one answered first ("在哪里打？要带身份证吗？" → materials after the place).
    "低保咋个申请", nothing more specific asked, wants both the overview and the steps: the one of them not answered
    first. (The question sets' writers read such a question as the steps, the conversations' writers as the overview:
    docs/evaluation.md.)"""
    asked = aspects_in(text) or (how_asked(text) if aspect in ("item", "procedure") else [])
    return tuple(a for a in asked if a != aspect)


def how_asked(text: str) -> list[str]:
    """"残疾证咋个办": how to get it done asks the overview and the steps (empty when not asked so)."""
    return ["item", "procedure"] if asks_how(text) else []


def asks_something(text: str) -> bool:
    """Whether a message asks at all ("顺便问下 咋个参保", "要带啥"), not only tells ("我是昨天去办社保卡遇到的")."""
    return bool(_ASKING.search(simplified(text)) or aspects_in(text) or asks_how(text))


def asks_how(text: str) -> bool:
    """"残疾证咋个办", "身份证丢了怎么办": how to get it done."""
    return bool(_HOW.search(simplified(text)))


def aspect_in(text: str) -> str | None:
    """The aspect a message asks for in words, when exactly one is asked (else None)."""
    found = aspects_in(text)
    return found[0] if len(found) == 1 else None


@dataclass
class Answer:
    text: str
    buttons: list[dict[str, Any]] = field(default_factory=list)


def _days(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return "即办（当场办结）" if value == 0 else f"{value}个工作日"
    return str(value)


def _sample_note(entry: Entry, fields: list[str]) -> str:
    marked = [f for f in fields if f in entry.sample_fields]
    return f"（{'、'.join(marked)}为示例信息，请以窗口公布为准）" if marked else ""


def _material_line(n: int, m: Material) -> str:
    details = f"{m.kind or ''}{f'{m.copies}份' if m.copies else ''}"
    if m.necessity and m.necessity != "必要":
        details += f"，{m.necessity}" if details else m.necessity
    line = f"{n}. {m.name}" + (f"（{details}）" if details else "")  # an official export may list names only
    if m.note:
        line += f"：{m.note}"
    return line


def _missing(entry: Entry, what: str) -> str:
    phone = entry.get("咨询电话")
    return f"知识库里暂时没有这项的{what}信息。" + (f"建议拨打咨询电话{phone}确认，" if phone else "") + way_onward()


def _body(entry: Entry, aspect: str) -> tuple[str, list[str]]:
    """Answer text for one aspect and the fields it used."""
    g = entry.get
    if aspect == "materials":
        materials = entry.materials
        if not materials:
            return _missing(entry, "申请材料"), []
        lines = [_material_line(n, m) for n, m in enumerate(materials, 1)]
        return "需要准备以下材料：\n" + "\n".join(lines), ["申请材料"]
    if aspect == "procedure":
        steps = g("办理流程") or []
        if not steps:
            return _missing(entry, "办理流程"), []
        return "办理流程：\n" + "\n".join(f"{n}. {s}" for n, s in enumerate(steps, 1)), ["办理流程"]
    if aspect == "time_limit":
        legal, promised = g("法定办结时限"), g("承诺办结时限")
        if legal is None and promised is None:
            return _missing(entry, "办结时限"), []
        parts = []
        if promised is not None:
            parts.append(f"承诺办结时限：{_days(promised)}")
        if legal is not None:
            parts.append(f"法定办结时限：{_days(legal)}")
        text = "；".join(parts) + "。"
        if g("时限说明"):
            text += f"\n说明：{g('时限说明')}"
        return text, ["承诺办结时限", "法定办结时限", "时限说明"]
    if aspect == "fee":
        if g("是否收费") is None:
            return _missing(entry, "收费"), []
        if g("是否收费") is False:
            return "这项不收费。", ["是否收费"]
        if not g("收费标准"):
            return "这项需要收费，" + _missing(entry, "收费标准"), []
        return f"这项需要收费。收费标准：{g('收费标准')}", ["收费标准"]
    if aspect == "location_hours":
        used = [name for name in ("办理地点", "办理时间", "咨询电话") if g(name)]
        if not used:
            return _missing(entry, "办理地点和时间"), []
        return "\n".join(f"{name}：{g(name)}" for name in used), used
    if aspect == "online":
        if g("是否网办") is None:
            return _missing(entry, "网上办理"), []
        if not g("是否网办"):
            return "这项暂不支持网上办理，需要到现场办理。" + (f"\n办理地点：{g('办理地点')}" if g("办理地点") else ""), ["是否网办", "办理地点"]
        text = "这项可以网上办理"
        if g("网办程度"):
            text += f"：{g('网办程度')}"
        return text + f"。\n办理入口：{g('网办地址')}", ["是否网办", "网办程度", "网办地址"]
    if aspect == "visits":
        visits = g("到办事现场次数")
        if visits is None:
            return _missing(entry, "到现场次数"), []
        text = "全程网上办理，不用到现场。" if visits == 0 else f"最多需要到办事现场{visits}次。"
        if g("是否网办") and visits:
            text += f"也可以先通过{g('网办地址')}网上申请。"
        return text, ["到办事现场次数"]
    # item: an overview
    lines = [f"受理条件：{g('受理条件')}"] if g("受理条件") else []
    if entry.materials:
        lines.append("主要材料：" + "、".join(m.name for m in entry.materials))
    if g("承诺办结时限") is not None:
        lines.append(f"承诺办结时限：{_days(g('承诺办结时限'))}")
    if g("是否收费") is not None:
        lines.append("收费：" + ("不收费" if g("是否收费") is False else (g("收费标准") or "收费，标准请咨询窗口")))
    if g("到办事现场次数") is not None:
        lines.append(f"到现场次数：{g('到办事现场次数')}次")
    if g("是否网办") is not None:
        lines.append(f"网上办理：{'可以，' + g('网办地址') if g('是否网办') else '不支持'}")
    return "\n".join(lines), ["受理条件", "申请材料", "承诺办结时限", "收费标准", "到办事现场次数", "网办地址"]


def aspect_buttons(exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Quick replies for the other aspects of the current item (those not answered already)."""
    return [
        {"title": title, "payload": f"/{ASPECT_INTENTS[aspect]}"}
        for aspect, title in ASPECT_TITLES.items()
        if aspect not in exclude
    ][:5]


def answer(entry: Entry, aspect: str, more: tuple[str, ...] = ()) -> Answer:
    """The grounded answer about one aspect of one item (and, after it, the other aspects the same message asked)."""
    for asked in (aspect, *more):
        if asked not in ASPECTS:
            raise ValueError(f"unknown aspect {asked!r}; expected one of {ASPECTS}")
    if not entry.has_guide:
        c = county()
        return Answer(
            f"“{entry.name}”由{entry.department}办理（事项类型：{entry.type}）。"
            f"知识库里暂时没有这项的详细办事指南，无法告诉您具体的{ASPECT_TITLES.get(aspect, '办理要求')}。"
            f"您可以在{c['网上办事大厅']}（{c['网上办事地址']}）搜索“{entry.name}”查看办事指南，"
            f"或拨打{c['热线']}热线咨询。",
            [{"title": "转人工客服", "payload": "/request_human"}],
        )
    body, used = _body(entry, aspect)
    for other in dict.fromkeys(a for a in more if a != aspect):
        other_body, other_used = _body(entry, other)
        body += f"\n\n{ASPECT_TITLES.get(other, '基本情况')}：\n{other_body}" if other == "item" else f"\n\n{other_body}"
        used += [f for f in other_used if f not in used]
    header = f"【{entry.name}】{entry.department}"
    footer = (f"信息核对日期：{entry.verified}" if entry.verified else f"来源：{entry.get('来源') or '导入的办事指南'}") + _sample_note(entry, used)
    if entry.get("示例"):
        footer += "。本指南为示例内容，以县里正式发布的办事指南为准"
    buttons = aspect_buttons(exclude=(aspect, *more))
    if entry.get("代办"):  # the county's 代办/帮办 service: the handoff desk takes the request (bot/handoff/desk.py)
        body += "\n行动不便或离乡镇较远的，可申请村（社区）代办员代办帮办，回复“申请代办”即可登记。"
        buttons.append({"title": "申请代办", "payload": f"申请代办 {entry.name}"})
    return Answer(f"{header}\n{body}\n{footer}。", buttons)


def gone(name: str | None) -> Answer:
    """An item asked about earlier that a newer knowledge version no longer holds."""
    what = f"“{name}”" if name else "您刚才问的事项"
    return Answer(f"{what}已不在知识库中（办事指南已调整或取消），我不能按旧的内容回答。" + way_onward(),
                  [{"title": "转人工客服", "payload": "/request_human"}])


def choose(entries: list[Entry], question_is_vague: bool, topic: str | None = None) -> Answer:
    """Ask which item is meant, with one button per candidate (at most MAX_OPTIONS)."""
    entries = entries[:MAX_OPTIONS]
    if topic:
        lead = f"您想办理{topic}方面的哪一项？请点选，也可以直接说说您的情况："
    elif question_is_vague:
        lead = "您想办理的是下面哪一项？请点选："
    else:
        lead = "没有找到完全对应的事项，您是不是想问下面这些？请点选："
    lines = [f"{n}. {e.name}" for n, e in enumerate(entries, 1)]
    buttons = [{"title": e.name, "payload": f'/choose_item{{"item_id":"{e.id}"}}'} for e in entries]
    return Answer(lead + "\n" + "\n".join(lines) + "\n都不是的话，" + way_onward(), buttons)


def unknown() -> Answer:
    """Nothing in the knowledge base fits."""
    return Answer(
        "抱歉，知识库里没有找到与您的问题对应的办事事项，我不能随意回答以免误导您。" + way_onward(),
        [{"title": "转人工客服", "payload": "/request_human"}],
    )


WHICH_ITEM_LEAD = "请问您想办哪件事？"


def which_item(aspect: str) -> Answer:
    """An aspect asked with no item named or in context ("要带什么材料"): which matter it is about."""
    what = ASPECT_TITLES.get(aspect, "怎么办理").replace("所需材料", "要带的材料")
    return Answer(f"{WHICH_ITEM_LEAD}说事项名称或说说您的情况都可以，例如“补办身份证”“给刚出生的孩子上户口”，我再告诉您{what}。", [])


_ASPECT_ONLY_REST = 3  # characters a message may hold besides its aspect words and still name no matter


def only_an_aspect(text: str) -> bool:
    """"要带什么材料", "多久能办好", "要拿些啥子去": an aspect asked, nothing said of which matter."""
    said = simplified(text)
    if not aspects_in(said):
        return False
    return len(re.findall(r"[\u4e00-\u9fff]", _GETTING_IT_DONE.sub("", without_aspect_cues(said)))) <= _ASPECT_ONLY_REST


# the words of getting any matter done ("办下来要多久", "多久能批下来"): no matter named by them
_GETTING_IT_DONE = re.compile(r"[办批弄搞拿领](?:得|不)?(?:下来|好|完|到)|能|可以|才")


def without_aspect_cues(text: str) -> str:
    """The words of a message besides those asking an aspect ("交了好久社保" is a guide's keyword, but "要好久" asks how
    long, not about it); a space where each cue was."""
    for cue in ASPECT_CUES.values():
        text = cue.sub(" ", text)
    return text


EVENT_LEAD = "【一件事："  # a life event's answer begins "【一件事：开店】"


def event_answer(event: LifeEvent, entries: list[Entry], link_base: str = "") -> Answer:
    """A life event: its steps in order, each with department, visits and promised time limit from its own guide,
    what can be done together (only as the event file quotes a guide or the county policy), and each guide's link.
    `entries` are the steps' guides, in order."""
    lines = [f"{EVENT_LEAD}{event.name}】" + (event.description or "需要依次办理以下事项：")]
    for n, (step, entry) in enumerate(zip(event.steps, entries), 1):
        facts = [entry.department]
        if entry.get("到办事现场次数") is not None:
            facts.append("全程网办" if entry.get("到办事现场次数") == 0 else f"到现场{entry.get('到办事现场次数')}次")
        if entry.get("承诺办结时限") is not None:
            facts.append(f"承诺{_days(entry.get('承诺办结时限'))}")
        condition = f"（{step.condition}）" if step.condition else ""
        lines.append(f"{n}. {entry.name}{condition}：{'，'.join(facts)}。办事指南：{link_base}/guides/{entry.id}")
    if event.together:
        lines.append(f"一次办：{event.together}")
    lines.append("想了解某一步，可以直接问，例如“第二步要带什么”。" + (f"信息核对日期：{event.verified}。" if event.verified else ""))
    buttons = [{"title": f"第{n}步：{entry.name}"[:30], "payload": f'/choose_item{{"item_id":"{entry.id}"}}'}
               for n, entry in enumerate(entries[:MAX_OPTIONS], 1)]
    return Answer("\n".join(lines), buttons)
