"""A message whose answering process died after storing it is answered by the citizen's retry (take_over), once."""
import datetime as dt

from bot.conversations.service import ORPHAN_SECONDS, log_inbound, log_replies, take_over
from bot.db import Database
from bot.messages import InboundMessage, Reply


def test_only_a_stale_unanswered_message_is_taken_over_and_only_once(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/app.db")
    database.migrate()
    with database.session() as session:
        stored, conversation_id, _, _ = log_inbound(db_session=session, message=InboundMessage(
            channel="web", sender="u1", text="护照怎么办", client_id="c1"))
        answered, _, _, _ = log_inbound(db_session=session, message=InboundMessage(
            channel="web", sender="u1", text="要多久", client_id="c2"))
        log_replies(db_session=session, conversation_id=conversation_id, inbound_id=answered, replies=[Reply(text="答")],
                    status="answered")
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=ORPHAN_SECONDS + 5)
    with database.session() as session:
        assert not take_over(db_session=session, inbound_id=stored, now=soon)  # its process may still be answering
        assert not take_over(db_session=session, inbound_id=answered, now=later)  # answered already
        assert take_over(db_session=session, inbound_id=stored, now=later)
        assert not take_over(db_session=session, inbound_id=stored, now=later)  # the second claimant loses
    database.engine.dispose()
