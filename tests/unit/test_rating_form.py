"""The rating form's actions (actions/ratings.py) with tracker fixtures and a stand-in desk: what starts the form and
what it says, the level as a word or an option's number, the comment, leaving, a message that is something else, the
subject of an app-triggered offer (a handoff, an appeal's answer), and a desk that fails."""
import asyncio
from types import SimpleNamespace

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.ratings import ActionAskRatingLevel, ActionFinishRating, ActionOfferRating, ValidateRatingForm
from bot import services
from bot.handoff.desk import Rated
from bot.messages import Reply

SENDER = "webchat-0123456789abcdef0123"


class StandInDesk:
    def __init__(self, recent=False, fail=False):
        self.rated, self.comments, self.recent, self.fail = [], [], recent, fail

    async def rate(self, conversation_id, level, subject):
        if self.fail:
            raise RuntimeError("database down")
        self.rated.append((level, subject))
        if (subject or "").startswith("appeal:") and level not in ("不满意", "非常不满意"):
            return Rated(Reply(text=f"感谢您的评价（{level}）！祝您生活顺利。"), None)
        return Rated(Reply(text=f"感谢您的评价（{level}）！您还有什么意见或建议吗？"), 41)

    async def comment(self, rating_id, text):
        self.comments.append((rating_id, text))
        return Reply(text="已记录您的意见，谢谢您！")

    async def rated_recently(self, conversation_id):
        return self.recent


@pytest.fixture
def desk():
    stand_in = StandInDesk()
    services.use(SimpleNamespace(desk=stand_in))
    yield stand_in
    services.use(None)


def tracker(text, intent, slots=None, entities=None, asked=None, said_at=1000.0, at=1010.0):
    events = [{"event": "slot", "name": "requested_slot", "value": asked},
              {"event": "bot", "text": "请您对本次服务做个评价", "timestamp": said_at},
              {"event": "user", "text": text, "timestamp": at, "parse_data": {"intent": {"name": intent}}}]
    return Tracker(SENDER, {"requested_slot": asked, **(slots or {})},
                   {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []},
                   events, False, None, {"name": "rating_form"} if asked else {}, "action_listen")


def run(action, t):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    follow = [e["name"] for e in events if e.get("event") == "followup"]
    return [m.get("text") for m in dispatcher.messages], slots, follow


def validate(slot, text, intent="ask_item", **slots):
    dispatcher = CollectingDispatcher()
    found = asyncio.run(getattr(ValidateRatingForm(), f"validate_{slot}")(
        text, dispatcher, tracker(text, intent, slots, asked=slot), {}))
    return found, [m.get("text") for m in dispatcher.messages]


def test_asking_to_rate_offers_the_levels_and_starts_the_form(desk):
    said, slots, follow = run(ActionOfferRating(), tracker("我想评价一下", "rate_service"))
    assert "请您对本次服务做个评价" in said[0] and slots["rating_offered"] is True and follow == ["rating_form"]
    assert desk.rated == []


def test_a_level_named_when_asking_is_stored_at_once_and_the_comment_is_next(desk):
    said, slots, follow = run(ActionOfferRating(), tracker("服务很好，非常满意", "rate_service"))
    assert desk.rated == [("非常满意", None)] and "感谢您的评价（非常满意）" in said[0]
    assert slots["rating_level"] == "非常满意" and slots["rating_id"] == 41 and follow == ["rating_form"]
    # the form starts and validates the level set in this turn: kept, not stored twice
    assert validate("rating_level", "非常满意", rating_id=41)[0] == {"rating_level": "非常满意"} and len(desk.rated) == 1


def test_after_a_goodbye_the_offer_is_not_repeated_within_the_hour(desk):
    desk.recent = True
    said, slots, follow = run(ActionOfferRating(), tracker("再见", "goodbye"))
    assert said == [] and slots["rating_offered"] is None and follow == []


def test_an_offer_triggered_by_the_app_keeps_its_subject(desk):
    handoff = [{"entity": "rating_subject", "value": "handoff:12"}]
    said, slots, follow = run(ActionOfferRating(), tracker("/offer_rating", "offer_rating", entities=handoff))
    assert "人工客服的服务" in said[0] and slots["rating_subject"] == "handoff:12" and follow == ["rating_form"]
    appeal = [{"entity": "rating_subject", "value": "appeal:GD2612030007"}]
    said, slots, _ = run(ActionOfferRating(), tracker("/offer_rating", "offer_rating", entities=appeal))
    assert said == [] and slots["rating_subject"] == "appeal:GD2612030007"  # the department's answer asked already
    asked = CollectingDispatcher()  # and the form's question stays silent in that turn
    asyncio.run(ActionAskRatingLevel().run(asked, tracker("/offer_rating", "offer_rating", entities=appeal, asked="rating_level"), {}))
    assert asked.messages == []


@pytest.mark.parametrize("text, level", [("4", "不满意"), ("非常满意", "非常满意"), ("基本满意吧", "基本满意"), ("1", "非常满意")])
def test_the_level_as_a_word_or_the_number_of_the_option(desk, text, level):
    found, said = validate("rating_level", text, "rate_service")
    assert found == {"rating_level": level, "rating_id": 41} and desk.rated == [(level, None)] and "感谢您的评价" in said[0]


def test_an_appeal_answer_rated_well_asks_nothing_more_and_a_bad_one_asks_why(desk):
    found, _ = validate("rating_level", "2", rating_subject="appeal:GD2612030007")
    assert found == {"rating_level": "满意", "rating_outcome": "rated"} and desk.rated == [("满意", "appeal:GD2612030007")]
    found, _ = validate("rating_level", "5", rating_subject="appeal:GD2612030007")
    assert found == {"rating_level": "非常不满意", "rating_id": 41}


@pytest.mark.parametrize("text, intent, outcome", [("社保卡丢了怎么补办", "ask_procedure", "something_else"),
                                                   ("不用了", "deny", "left"), ("拜拜", "goodbye", "left")])
def test_not_a_level_ends_the_form(desk, text, intent, outcome):
    found, said = validate("rating_level", text, intent)
    assert found == {"rating_level": None, "rating_outcome": outcome} and desk.rated == [] and said == []


def test_a_level_given_long_after_the_offer_is_a_new_matter_except_for_an_appeals_answer(desk):
    dispatcher = CollectingDispatcher()
    late = tracker("3", "ask_item", asked="rating_level", said_at=1000.0, at=1000.0 + 3600)
    assert asyncio.run(ValidateRatingForm().validate_rating_level("3", dispatcher, late, {}))["rating_outcome"] == "something_else"
    late.slots["rating_subject"] = "appeal:GD2612030007"
    assert asyncio.run(ValidateRatingForm().validate_rating_level("3", dispatcher, late, {}))["rating_level"] == "基本满意"


def test_the_comment_is_stored_and_no_comment_or_a_new_question_ends_the_form(desk):
    found, said = validate("rating_comment", "窗口让我跑了三趟", rating_id=41)
    assert found == {"rating_comment": "窗口让我跑了三趟"} and desk.comments == [(41, "窗口让我跑了三趟")] and "已记录" in said[0]
    found, said = validate("rating_comment", "没有了", rating_id=41)
    assert found == {"rating_comment": None, "rating_outcome": "done"} and "感谢您的使用" in said[0]
    found, said = validate("rating_comment", "那护照怎么办？", "ask_procedure", rating_id=41)
    assert found == {"rating_comment": None, "rating_outcome": "something_else"} and len(desk.comments) == 1


def test_a_failing_desk_apologises_with_the_hotline():
    services.use(SimpleNamespace(desk=StandInDesk(fail=True)))
    try:
        found, said = validate("rating_level", "满意", "rate_service")
        assert found == {"rating_level": None, "rating_outcome": "done"} and "12345" in said[0]
        said, slots, follow = run(ActionOfferRating(), tracker("非常满意", "rate_service"))
        assert "12345" in said[0] and slots["rating_offered"] is None and follow == []
    finally:
        services.use(None)


def test_finishing_resets_the_form_and_the_subject_once_rated(desk):
    said, slots, _ = run(ActionFinishRating(), tracker("没有了", "deny", {"rating_level": "满意", "rating_outcome": "done",
                                                                         "rating_subject": "handoff:12", "rating_id": 41}))
    assert said == [] and all(v is None for v in slots.values()) and "rating_subject" in slots
    said, slots, _ = run(ActionFinishRating(), tracker("拜拜", "goodbye", {"rating_outcome": "left", "rating_subject": "appeal:GD1"}))
    assert "感谢您的使用" in said[0] and "rating_subject" not in slots  # not rated: the answer can still be rated
