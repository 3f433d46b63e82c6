"""What the app itself says to citizens (Rasa's own responses live in domain.yml; handoff texts in
bot/handoff/texts.py). Simplified Chinese, short enough for voice."""

# A custom action failed: Rasa's turn goes on, and the citizen is told plainly.
ACTION_FAILED = "抱歉，这一步没有处理成功，请换个说法再试一次；急事请拨打12345热线，人工客服为您服务。"

# Rasa answered the turn with nothing to say: the citizen still gets a reply.
EMPTY_REPLY = "抱歉，我没有完全明白您的意思。您可以换个说法，或者输入“人工”联系人工客服。"

# A retried message whose first attempt is still being answered elsewhere and did not finish in time.
STILL_WORKING = "您的消息正在处理中，请稍候片刻再刷新查看回复。"

# Too many citizens at once (bot/conversations/admission.py): the message is kept, the citizen sends it again.
BUSY = "当前咨询的人比较多，您的消息暂时没能处理，请稍等几秒再发一次。急事请拨打12345热线。"
