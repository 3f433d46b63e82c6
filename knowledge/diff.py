"""What changed between two knowledge contents: items added, items removed, and the fields changed in the others."""
from __future__ import annotations

from dataclasses import dataclass, field

from knowledge.content import Content


@dataclass
class Diff:
    added: list[str] = field(default_factory=list)  # item names
    removed: list[str] = field(default_factory=list)
    changed: list[tuple[str, list[str]]] = field(default_factory=list)  # (item name, changed field names)
    pinned: list[str] = field(default_factory=list)  # pinned answers added, removed or changed, one line each
    events: list[str] = field(default_factory=list)  # life events added, removed or changed, one line each

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.pinned or self.events)

    def lines(self, limit: int | None = 20) -> list[str]:
        """The diff in Chinese, at most `limit` items of each kind (None: all)."""
        out = [f"新增 {len(self.added)} 个事项，修改 {len(self.changed)} 个，删除 {len(self.removed)} 个。"]
        for title, rows in (("新增", [f"  + {n}" for n in self.added]),
                            ("修改", [f"  ~ {n}：{'、'.join(fields)}" for n, fields in self.changed]),
                            ("删除", [f"  - {n}" for n in self.removed])):
            if rows:
                shown = rows if limit is None else rows[:limit]
                out += [f"{title}："] + shown + ([f"  …另有 {len(rows) - len(shown)} 个"] if len(rows) > len(shown) else [])
        if self.pinned:
            out += ["人工答复："] + [f"  {line}" for line in self.pinned]
        if self.events:
            out += ["一件事："] + [f"  {line}" for line in self.events]
        return out


def diff(old: Content, new: Content) -> Diff:
    """Items are the same item when they have the same id."""
    result = Diff()
    for item_id, document in new.items.items():
        before = old.items.get(item_id)
        if before is None:
            result.added.append(document["事项名称"])
        elif before != document:
            fields = [k for k in dict.fromkeys([*before, *document]) if before.get(k) != document.get(k)]
            result.changed.append((document["事项名称"], fields))
    result.removed = [d["事项名称"] for item_id, d in old.items.items() if item_id not in new.items]
    before, after = ({d["编号"]: d for d in c.pinned} for c in (old, new))
    for number, d in after.items():
        if number not in before:
            result.pinned.append(f"+ {number}：{'；'.join(d['问法'][:3])} → {d['答复']}")
        elif before[number] != d:
            result.pinned.append(f"~ {number}：{'；'.join(d['问法'][:3])} → {d['答复']}")
    result.pinned += [f"- {number}：{'；'.join(d['问法'][:3])}" for number, d in before.items() if number not in after]
    before, after = ({d["编号"]: d for d in c.events} for c in (old, new))
    for number, d in after.items():
        if number not in before:
            result.events.append(f"+ {d['一件事']}：{' → '.join(s['事项'] for s in d['步骤'])}")
        elif before[number] != d:
            fields = [k for k in dict.fromkeys([*before[number], *d]) if before[number].get(k) != d.get(k)]
            result.events.append(f"~ {d['一件事']}：{'、'.join(fields)}")
    result.events += [f"- {d['一件事']}" for number, d in before.items() if number not in after]
    return result
