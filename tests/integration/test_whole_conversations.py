"""Whole conversations through the real app and the real trained Rasa model: a vague opening asked back and answered
by a detail, an item switch that keeps the question, a life event and a question about one of its steps, a
booking with a named time and a cancellation in one message, a goodbye with thanks, a greeting that carries a
question; a detail among options, the booking's details in one message, a move by days, a complaint closed with thanks;
a question in the middle of the booking form, a topic where the item to book is asked, a time said to be impossible,
a short question about a neighbouring service, a score as the rating, a time alone after a move to an evening's
earliest time, a follow-up naming the item's topic, the person said with the day, a look-up after a move, a correction
read as a goodbye, a follow-up about a thing the guide never speaks of, a short switch with one close item; a booking
asked for after the materials or inside a story, no to an answer with what was meant, thanks after options, a name several
items share, a document already in hand; a story asking for everything about a birth, a death told in a question, a
grievance told without a question, an aspect the classifier did not understand asked of the item in context, a follow-up
with a word the item's own questions say."""
import datetime as dt
import re

from knowledge.service import get_index


def guide(name):
    return get_index().kb.by_name(name)


def texts(replies) -> str:
    return "\n".join(r["text"] for r in replies)


def test_a_vague_opening_is_asked_back_and_a_detail_answers(chat):
    replies = chat("咨询点户口上的事")
    assert "户口方面的哪一项" in replies[0]["text"] and 2 <= len(replies[0]["buttons"]) <= 4
    text = texts(chat("给刚生的娃儿上户口"))
    assert text.startswith("【出生登记】")


def test_an_item_switch_keeps_the_question(chat):
    assert "收费" in texts(chat("补办身份证要多少钱"))
    text = texts(chat("那港澳通行证呢"))
    permit = guide("往来港澳通行证及签注签发")
    assert text.startswith(f"【{permit.name}】") and permit.get("收费标准") in text


def test_a_life_event_lists_its_steps_and_a_step_can_be_asked(chat):
    text = texts(chat("生了二胎，要给娃办些啥"))
    assert text.startswith("【一件事：")
    steps = re.findall(r"^\d\. ([^（：]+)", text, re.M)
    assert steps[:3] == ["《出生医学证明》首次签发", "出生登记", "《预防接种证》办理"]
    second = guide("出生登记")
    text = texts(chat("第二步要带什么"))
    assert text.startswith(f"【{second.name}】") and all(m.name in text for m in second.materials)


def test_a_booking_with_a_named_time_and_a_cancellation_in_one_message(chat):
    replies = chat("我想约下周四晚上六点去换身份证")
    assert "姓名" in texts(replies)
    chat("王小明")
    assert "确认预约" in texts(chat("13912340001"))
    done = texts(chat("对"))
    code = re.search(r"预约码：([A-Z2-9]{6})", done).group(1)
    assert "18:00" in done
    cancelled = texts(chat(f"那天有事去不成了，码是 {code}，电话 13912340001，给我退了"))
    assert "已为您取消预约" in cancelled and code in cancelled


def test_a_goodbye_with_thanks_ends_politely_and_invites_the_rating(chat):
    chat("社保卡补办要带什么")
    text = texts(chat("行，晓得了，谢谢，再见"))
    assert "再见" in text and "评价" in text


def test_a_greeting_that_carries_a_question_gets_the_answer(chat):
    text = texts(chat("喂你好，我想问下补办身份证要带什么"))
    assert text.startswith("【居民身份证办理（包括临时）】") and "需要准备以下材料" in text


def test_a_correction_during_the_booking_changes_it_instead_of_dropping_it(chat):
    first = texts(chat("下周三上午想约个号办居住证"))
    assert re.search(r"最早可以约(09|1[01]):\d\d", first) and "姓名" in first  # the morning's earliest time, said
    changed = chat("算了，改成下午嘛，上午走不开")
    assert "没有为您预约" not in texts(changed)
    text = texts(chat("杨丽，18990331208"))
    for _ in range(3):  # a time may still be asked for: take the first offered
        if "确认预约吗" in text:
            break
        text = texts(chat("对"))
    assert "杨丽" in text and "189****1208" in text
    assert re.search(r"时间：\d+月\d+日 1[3-6]:\d\d", text)  # an afternoon slot


def test_a_digit_where_the_name_is_asked_gets_one_message(chat):
    chat("我想约下周四晚上六点去换身份证")
    replies = chat("1")  # the slot's number, typed again where the name is asked
    assert len(replies) == 1 and "姓名" in replies[0]["text"]
    assert len(chat("王小明")) == 1  # and a name is taken: the mobile is asked, once


def test_situations_are_answered_whatever_intent_they_look_like(chat):
    # told as situations, with none of the words of a booking, a change, a complaint or a goodbye
    text = texts(chat("我下个月满六十，办退休要拿些啥子东西去嘛"))
    assert text.startswith("【企业职工基本养老保险正常退休申请】") and "确认预约" not in text and "哪天" not in text
    text = texts(chat("我的身份证上个月到期了，现在去换一个新的要好久才拿得到"))
    assert text.startswith("【居民身份证办理（包括临时）】") and "预约码" not in text


def test_a_detail_read_as_yes_picks_among_the_options_with_the_question_they_answered(chat):
    replies = chat("社保卡的事情问一哈")
    assert len(replies[0]["buttons"]) >= 2
    card = guide("社会保障卡补领、换领、换发")
    assert texts(chat("卡搞掉了")).startswith(f"【{card.name}】")  # the classifier reads it as yes
    assert texts(chat("要钱不")).startswith(f"【{card.name}】")


def test_name_mobile_and_id_number_in_one_message_fill_the_booking_at_once(chat):
    chat("我和女朋友想约下周六上午去领结婚证")
    read_back = texts(chat("赵磊 13699031587 身份证号511126199003084520"))
    assert "请核对预约信息" in read_back and "姓名：赵磊" in read_back and "身份证号：511126********4520" in read_back


def test_a_relative_named_before_the_name_is_not_the_name(chat):
    chat("帮我妈约个号 办那个八十岁老人的高龄津贴 下下周一上午")
    read_back = texts(chat("办事人是我妈罗素珍 电话留我的13882617745"))
    assert "姓名：罗素珍" in read_back and "138****7745" in read_back


def test_a_move_by_days_and_a_time_alone_to_the_offered_times(chat):
    chat("买了套二手房要办过户 约下周三中午十二点")
    chat("杨明 13551234567")
    booked = re.search(r"预约码：([A-Z2-9]{6})\n(\d+)月(\d+)日 12:00", texts(chat("对头")))
    assert booked, "booked at 12:00"
    today = dt.date.today()
    month = int(booked.group(2))
    day = dt.date(today.year + (month < today.month), month, int(booked.group(3))) + dt.timedelta(days=1)
    moved = texts(chat("那个过户的预约往后推一天 还是中午"))
    assert "改期成功" in moved and f"{day.month}月{day.day}日 12:00" in moved  # the next day, at lunch time again
    assert "可以改到这些时段" in texts(chat("改到下周四"))  # a whole day: its times offered
    moved = texts(chat("下午那个"))  # read as a greeting by the classifier; here a choice among the times
    assert "改期成功" in moved and "13:30" in moved


def test_thanks_in_the_middle_of_a_complaint_files_it_and_invites_the_rating(chat):
    first = texts(chat("我要投诉 漹城镇我们楼下那个烧烤摊天天搞到半夜两点 吵得睡不着"))
    assert "地点" not in first  # 漹城镇 is the place
    closing = texts(chat("好 谢谢"))
    assert "工单编号" in closing and "评价" in closing


def test_an_aspect_asked_with_no_matter_is_asked_back_and_the_matter_named_next_gets_that_aspect(chat):
    text = texts(chat("要拿些啥子去"))  # read as yes by the classifier
    assert text.startswith("请问您想办哪件事") and "没有找到" not in text
    card = guide("居民身份证办理（包括临时）")
    text = texts(chat("身份证补办"))
    assert text.startswith(f"【{card.name}】") and all(m.name in text for m in card.materials)


def test_a_question_read_as_a_rating_is_answered(chat):
    chat("社保卡搞掉了 补一张要钱不")
    certificate = guide("个人参保证明查询打印")
    text = texts(chat("打参保证明呢"))  # the classifier reads it as a rating
    assert text.startswith(f"【{certificate.name}】") and "评价" not in text


def test_a_situation_read_as_a_complaint_gets_the_life_event(chat):
    text = texts(chat("我婆娘刚生了 娃娃要办些啥子手续哦 一样都不晓得"))
    assert text.startswith("【一件事：") and "工单" not in text


def test_the_first_step_of_a_life_event_then_the_second(chat):
    assert texts(chat("我想开个饭馆子 卖家常炒菜的 要办哪些证照")).startswith("【一件事：开店】")
    first, second = guide("个体工商户设立登记"), guide("食品经营许可")
    assert texts(chat("先办哪个")).startswith(f"【{first.name}】")
    text = texts(chat("第二步要带什么"))
    assert text.startswith(f"【{second.name}】") and all(m.name in text for m in second.materials)


def test_a_change_of_time_at_the_read_back_corrects_the_booking(chat):
    chat("食品经营许可证想约个下班后的时间 下周二傍晚")
    assert "请核对预约信息" in texts(chat("赵勇 13500004444"))
    read_back = texts(chat("不好意思 还是下周二 改到中午嘛"))  # the classifier reads it as moving a booking
    assert "请核对预约信息" in read_back and "12:00" in read_back and "预约码" not in read_back


def test_an_invalid_id_number_is_said_so(chat):
    chat("结婚证搞掉了 我要预约补办 下周一上午")
    text = texts(chat("李梅 电话13990001234 身份证511126199003151234"))
    assert "校验位不对" in text


def test_asking_whether_to_book_is_a_question_not_a_booking_change(chat):
    text = texts(chat("领结婚证收不收费？需要提前预约还是直接去就行？"))
    assert "预约码" not in text


def test_a_question_and_a_booking_in_one_message_get_both(chat):
    item = guide("户口迁移审批")
    text = texts(chat("户口迁移要多久办好，帮我约个下周一中午"))
    assert text.startswith(f"【{item.name}】") and f"{item.get('承诺办结时限')}个工作日" in text
    assert "姓名" in text  # and the booking goes on


def test_a_mobile_with_88_in_it_and_a_name_read_as_a_change_fill_the_booking(chat):
    chat("我身分证过期了 想预约去换个新的 下周二下午三点")
    assert "手机" in texts(chat("李德明"))  # a bare name the classifier may read as a change
    read_back = texts(chat("136 8812 3456"))  # 88 inside a number is no goodbye
    assert "请核对预约信息" in read_back and "136****3456" in read_back


def test_a_service_question_in_the_middle_of_a_complaint_is_answered_and_the_intake_goes_on(chat):
    chat("反映个问题 我们村那个路灯坏了三个月了 晚上黑黢黢的 老年人走路摔了好几个了 没得人管")
    item = guide("城乡居民基本养老保险参保登记")
    text = texts(chat("顺便问下 我妈还没参加城乡居民养老保险 咋个参保"))
    assert text.startswith(f"【{item.name}】") and "登记工单还需要" in text
    closing = texts(chat("谢谢哈 没得了"))
    assert "工单编号" in closing and "评价" in closing


def book(chat, opening, person):
    chat(opening)
    chat(person)
    done = texts(chat("对"))
    return re.search(r"预约码：([A-Z2-9]{6})", done).group(1)


def test_a_move_said_as_a_new_booking_moves_the_booking_made(chat):
    book(chat, "我想预约办护照 下周二下午三点嘛", "李建国 13981234567")
    moved = texts(chat("下周二下午我走不开 改到下周三上午十点"))  # read as a new booking by the classifier
    assert "改期成功" in moved and "10:00" in moved and "姓名" not in moved


def test_another_time_after_the_offered_ones_moves_the_booking(chat):
    code = book(chat, "预约个人参保证明查询打印 下周二上午十一点", "何静 13990001122")
    assert "可以改到这些时段" in texts(chat(f"预约码{code} 手机13990001122 改到下周三晚上六点 下了班过来"))
    moved = texts(chat("晚上不得行嗦 那下周三中午十二点嘛"))
    assert "改期成功" in moved and "12:00" in moved


def test_a_time_alone_after_a_move_to_the_earliest_time_of_an_evening_moves_it_again(chat):
    chat("我要办港澳通行证 下周二晚上七点 我叫吴大华 电话13308134529")
    code = re.search(r"预约码：([A-Z2-9]{6})", texts(chat("对 确认"))).group(1)
    chat(f"那天临时要加班 {code} 13308134529 帮我改个时间")
    first = texts(chat("下周三晚上还有没得"))
    assert "改期成功" in first and "最早能约" in first  # the evening's earliest time, said so
    moved = texts(chat("六点半那个"))
    assert "改期成功" in moved and "18:30" in moved


def test_a_follow_up_with_the_items_topic_word_or_short_name_stays_with_it(chat):
    chat("办护照要带啥子材料")
    chat("那港澳通行证呢")
    assert texts(chat("港澳的要好多钱")).startswith("【往来港澳通行证及签注签发】")  # not the 出入境 options
    chat("那预防接种证呢")
    assert texts(chat("接种证要钱不")).startswith("【《预防接种证》办理】")  # not a single option to click


def test_the_name_and_mobile_said_with_the_day_fill_the_booking_and_a_look_up_after_a_move_moves_nothing(chat):
    chat("我要预约开无犯罪纪录证明")
    read_back = texts(chat("下周三上午10点 王晓东 13980614427"))
    assert "请核对预约信息" in read_back and "王晓东" in read_back
    code = re.search(r"预约码：([A-Z2-9]{6})", texts(chat("确认"))).group(1)
    assert "改期成功" in texts(chat(f"改到下周四上午十点 预约码{code} 手机13980614427"))
    looked_up = texts(chat("改好了吗？帮我查下现在约的是星期几"))
    assert looked_up.startswith("为您查到") and "10:00" in looked_up


def test_a_correction_at_the_read_back_that_sounds_like_a_goodbye_corrects_the_booking(chat):
    chat("我们想预约结婚登记")
    chat("下周四上午十点")
    chat("赵磊 13518275406")
    read_back = texts(chat("身份证号511126199503120014"))
    assert "请核对预约信息" in read_back
    corrected = texts(chat("不是下周四 搞错了 是下周五 其他不变"))  # the classifier reads a goodbye
    assert "请核对预约信息" in corrected and "再见" not in corrected
    done = texts(chat("对 确认"))
    day = re.search(r"预约成功！预约码：[A-Z2-9]{6}\n(\d+)月(\d+)日", done)
    assert day and dt.date(dt.date.today().year + (int(day.group(1)) < dt.date.today().month), int(day.group(1)),
                           int(day.group(2))).isoweekday() == 5


def test_a_follow_up_about_a_thing_the_guide_never_speaks_of_is_not_answered_as_it(chat):
    chat("房子卖了 过户要准备些啥子资料")
    reply = texts(chat("顺便问下 车子过户在你们这办得到不"))
    assert not reply.startswith("【不动产转移登记】")


def test_a_short_switch_with_one_close_item_answers_it(chat):
    chat("第一次办社保卡在哪儿办")
    reply = texts(chat("卡掉了补办的话呢"))  # one option close: answered, the place still asked
    assert reply.startswith("【社会保障卡补领、换领、换发】") and "办理地点" in reply


def test_a_corrected_mobile_after_a_failed_look_up_finds_the_booking(chat):
    code = book(chat, "预约办往来港澳通行证 下周四下午四点", "黄丽 13812340001")
    assert "没有找到这个预约" in texts(chat(f"查一哈我的预约 {code} 电话13812340010"))
    assert code in texts(chat("搞错了 电话是13812340001"))


def test_an_angry_request_for_a_person_is_handed_over(chat):
    text = texts(chat("你这个破机器人说些废话 老子要找真人"))
    assert "人工" in text


def test_thanks_in_the_booking_form_ends_it_with_the_rating(chat):
    chat("我想预约")
    text = texts(chat("晓得了 谢谢"))
    assert "没有为您预约" in text and "评价" in text


def test_asking_whether_the_item_in_context_can_be_booked_names_that_item(chat):
    chat("我们是外地来打工的 娃儿要在夹江读小学")
    text = texts(chat("这个可以预约不"))
    assert "进城务工人员随迁子女接受义务教育入学申请办理" in text and "暂不支持预约" in text


def test_a_question_while_the_booking_asks_for_the_name_is_answered_and_the_booking_goes_on(chat):
    item = guide("无犯罪记录证明")
    assert "姓名" in texts(chat("我想预约开无犯罪记录证明 下周二上午十点"))
    text = texts(chat("等一下 我先问下要带啥子材料"))
    assert text.startswith(f"【{item.name}】") and all(m.name in text for m in item.materials) and "姓名" in text
    assert "请核对预约信息" in texts(chat("何勇 电话198 1234 0587"))  # the mobile typed in groups


def test_a_topic_where_the_item_to_book_is_asked_offers_its_items(chat):
    replies = chat("想预约办个户口的事")
    titles = [b["title"] for r in replies for b in r.get("buttons") or []]
    assert "户口方面的哪一项" in texts(replies) and "户口迁移审批" in titles
    assert "请问您想约哪天" in texts(chat(str(titles.index("户口迁移审批") + 1)))  # a number picks it


def test_a_time_said_while_the_item_options_wait_is_kept_for_the_item_picked(chat):
    first = chat("想预约办个户口的事 下周四上午十点")
    titles = [b["title"] for r in first for b in r.get("buttons") or []]
    again = chat("哦 还是下周四中午12点半嘛")  # a time, not yet the item: the options again, the time kept
    assert "请先选一项" in texts(again) and [b["title"] for r in again for b in r.get("buttons") or []] == titles
    assert "姓名" in texts(chat(str(titles.index("户口迁移审批") + 1)))  # not "which day?"
    chat("周丽")
    assert "12:30" in texts(chat("13912340077"))  # the later time said wins


def test_a_time_said_to_be_impossible_is_not_where_the_booking_moves(chat):
    code = book(chat, "预约办往来港澳通行证 下周四晚上七点", "吴大华 13308134529")
    text = texts(chat(f"下周四晚上临时要加班 {code} 133 0813 4529 帮我改个时间"))
    assert "可以改到这些时段" in text and "改期成功" not in text


def test_a_short_question_about_a_car_is_not_answered_as_the_property_transfer(chat):
    text = texts(chat("车子过户咋个办"))
    assert not text.startswith("【不动产转移登记】") and "四川政务服务网" in text


def test_a_score_rates_the_service(chat):
    chat("社保卡补办要带什么")
    assert "评价" in texts(chat("好 谢谢 再见"))
    assert "感谢您的评价（非常满意）" in texts(chat("5分"))


def test_how_to_apply_gets_the_conditions_and_the_steps(chat):
    text = texts(chat("低保咋个申请"))
    assert text.startswith("【最低生活保障】") and "受理条件" in text and "办理流程：" in text


def test_a_document_to_take_along_is_asked_of_the_item_in_context(chat):
    assert texts(chat("生育津贴咋个领")).startswith("【生育津贴支付】")
    text = texts(chat("要不要带结婚证哦"))  # 结婚证 is also in the name of 补领结婚证
    assert text.startswith("【生育津贴支付】") and "需要准备以下材料" in text


def test_a_story_is_answered_with_what_its_question_asks(chat):
    # what is told on the way (the materials handed in, the app) is not what is asked (how long)
    text = texts(chat("我老婆生了娃，单位已经把材料交上去申请产假那段时间的补助了，一般要多久钱才能打到卡上？"))
    assert text.startswith("【生育津贴支付】") and "承诺办结时限" in text.split("\n")[1]


def test_a_change_at_the_read_back_read_as_a_new_booking_corrects_it(chat):
    chat("我和我对象想约个结婚登记 后天上午十点")
    chat("刘洋")
    chat("18628190066")
    assert "请核对预约信息" in texts(chat("511126199503062619"))
    text = texts(chat("等一下 时间改成后天下午两点半"))
    assert "请核对预约信息" in text and "14:30" in text
    assert "预约成功" in texts(chat("对 确认"))


def test_thanks_while_a_complaint_asks_files_it_and_a_degree_rates(chat):
    chat("我要投诉政务中心那个窗口的工作人员 态度差得很 问两句就不耐烦")
    assert "【社会保障卡" not in texts(chat("我是昨天下午去办社保卡遇到的"))  # the time, told: no guide in reply
    text = texts(chat("谢了 就这样"))
    assert "工单编号" in text and "评价" in text
    assert "（不满意）" in texts(chat("不太满意"))


def test_asking_to_book_one_after_the_materials_books_that_item(chat):
    assert texts(chat("老年人优待证要带什么材料")).startswith("【申领《四川省老年人优待证》】")
    text = texts(chat("那帮我约一个吧"))  # the classifier reads "那…" as a cancellation
    assert "预约码" not in text and ("日期" in text or "哪天" in text)
    chat("下周二上午九点")
    chat("董玉珍 15981234567")
    done = texts(chat("确认"))
    assert "预约成功" in done and "老年人优待证" in done


def test_a_story_that_asks_for_a_booking_is_booked(chat):
    text = texts(chat("我在成都上班，医保在夹江，想在成都看病能直接报销，要办个备案，帮我约一个"))
    assert "异地就医备案" in text and "哪天" in text  # the booking goes on (the classifier reads a complaint)
    chat("下周二上午十一点")
    chat("钟思雨，15828376105")
    done = texts(chat("确认"))
    assert "预约成功" in done and "异地就医备案" in done and "11:00" in done


def test_no_to_an_answer_with_what_was_meant_answers_that(chat):
    chat("问下社保的事")
    assert texts(chat("第一个")).startswith("【个人参保证明查询打印】")
    assert texts(chat("不是这个，我是社保卡掉了要补办")).startswith("【社会保障卡补领、换领、换发】")


def test_thanks_after_options_is_no_choice(chat):
    chat("车辆过户又要带啥")
    text = texts(chat("好的，晓得了，谢谢"))
    assert not text.startswith("【") and "评价" in text


def test_a_name_several_items_share_is_asked_back_and_a_detail_picks(chat):
    replies = chat("问一下不动产登记")
    names = [b["title"] for b in replies[0]["buttons"]]
    assert "不动产抵押登记" in names and "不动产转移登记" in names
    assert texts(chat("买二手房过户那种")).startswith("【不动产转移登记】")


def test_a_document_already_in_hand_is_not_what_is_asked(chat):
    text = texts(chat("我老婆上个月在县医院生了个儿子出生医学证明已经拿到了现在想给娃儿上户口要怎么弄"))
    assert text.startswith("【出生登记】")


def test_a_story_asking_for_everything_about_a_birth_gets_the_new_borns_steps(chat):
    text = texts(chat("我老婆上个礼拜在县医院生了个儿子，现在要给娃儿办些啥子手续哦"))
    assert text.startswith("【一件事：新生儿出生】")


def test_a_death_told_in_a_question_is_no_goodbye(chat):
    replies = chat("我爸上个月走了，他名下有套房子，要转到我妈名下，咋个办")
    text = texts(replies)
    # answered, or offered first: the search learned from the writers' questions that a death told first is as often
    # a question outside the knowledge base (户口注销, 丧葬费), and is less sure of it than before (docs/evaluation.md)
    offered = [b["title"] for b in replies[0].get("buttons") or []]
    assert "评价" not in text and (text.startswith("【不动产转移登记】") or offered[:1] == ["不动产转移登记"])


def test_a_grievance_told_without_a_question_is_taken_as_a_complaint(chat):
    text = texts(chat("我们这边停水停了两天了，也没得通知，屋头老人娃儿都不方便"))
    assert "工单" in text and not text.startswith("【") and "哪一项" not in text


def test_an_aspect_not_understood_is_asked_of_the_item_in_context(chat):
    assert texts(chat("我爷爷今年满80了，听说有高龄津贴，咋个领")).startswith("【80周岁以上老年人高龄津贴发放】")
    text = texts(chat("他走不动路，我帮他办行不行，要他本人去不"))
    assert text.startswith("【80周岁以上老年人高龄津贴发放】") and "到办事现场" in text


def test_a_follow_up_with_a_word_the_items_own_questions_say_stays_with_it(chat):
    item = "【进城务工人员随迁子女接受义务教育入学申请办理】"
    assert texts(chat("我在夹江打工，娃儿户口在老家，明年想在夹江读小学，咋个办")).startswith(item)
    assert texts(chat("网上能报名不")).startswith(item)  # 报名 is a keyword of local school entry, and said by this one's questions


def test_a_condition_of_one_step_of_a_life_event_answers_that_step(chat):
    assert texts(chat("去香港耍要办啥子证件")).startswith("【往来港澳通行证及签注签发】")
    assert texts(chat("我要出国去打工，要办些啥子")).startswith("【一件事：出国出境】")  # 出国 is the event's own name


def test_a_local_citizen_gets_the_home_guide_not_the_one_for_people_from_elsewhere(chat):
    assert texts(chat("我是夹江本地户口，身份证昨天赶场的时候搞掉了，咋个补哦")).startswith("【居民身份证办理（包括临时）】")


def test_whether_the_counter_opens_in_the_evening_gets_the_hours_then_the_booking(chat):
    text = texts(chat("换身份证晚上能办不 我白天要上班 户口就在夹江"))  # the hours asked, then the "5+X" times offered
    assert text.startswith("【居民身份证办理（包括临时）】") and "办理时间" in text.split("\n")[2] and "请问您想约哪天" in text


def test_a_code_with_what_to_do_with_it_looks_the_booking_up(chat):
    chat("约后天上午十点去办居住证，吴敏，18728561234")
    code = re.search(r"预约码：([A-Z2-9]{6})", texts(chat("确认"))).group(1)
    assert texts(chat(f"再帮我查一下 {code}")).startswith("为您查到")
    assert texts(chat("帮我查一下18728561234约的")).startswith("为您查到")


def test_a_detail_of_what_the_item_gives_picks_among_the_options(chat):
    names = [b["title"] for b in chat("我妈今年82了，老年人有啥子福利可以办")[0]["buttons"]]
    assert "80周岁以上老年人高龄津贴发放" in names
    assert texts(chat("领钱的那个")).startswith("【80周岁以上老年人高龄津贴发放】")


def test_a_story_that_changes_a_name_on_a_deed_is_no_booking_change(chat):
    text = texts(chat("老汉想把他名下的房子送给我，要去把房产证上的名字改成我的，要交好多费用？"))
    assert text.startswith("【不动产转移登记】") and "收费" in text


def test_a_plea_for_the_governments_help_after_a_fire_is_no_goodbye(chat):
    text = texts(chat("屋头突然失火了，房子烧了，一家人没得地方住，生活一下子过不走了，政府能不能给点应急的帮扶？"))
    assert text.startswith("【临时救助】") and "评价" not in text


def test_a_switch_to_the_replacement_keeps_the_aspect(chat):
    chat("社保卡的事问下")
    chat("从来没办过 第一次办")
    assert texts(chat("收不收钱")).startswith("【社会保障卡申领】")
    text = texts(chat("那补卡呢"))
    assert text.startswith("【社会保障卡补领、换领、换发】") and "收费" in text.split("\n")[1]


def test_how_to_apply_after_an_option_picked_with_a_money_word_gets_the_steps(chat):
    chat("屋头困难得很，政府有啥子救助没得")
    assert texts(chat("屋头房子着火烧了 急需用钱 就是临时救急那种")).startswith("【临时救助】")
    text = texts(chat("咋个申请"))
    assert text.startswith("【临时救助】") and "办理流程" in text


def test_a_switch_that_asks_how_gets_the_steps_not_the_aspect_before(chat):
    chat("我在厂里头交的职工社保，到年龄了退休申请咋个办")
    chat("能在网上申请不")
    text = texts(chat("那我老汉是农村的，交的城乡居民养老，满60了咋个领钱"))
    assert text.startswith("【城乡居民基本养老保险待遇申领】") and "办理流程" in text


def test_a_switch_after_a_how_question_gets_the_overview_and_the_steps_again(chat):
    assert "办理流程" in texts(chat("我公司刚招了两个人，公司社保开户咋个办"))
    text = texts(chat("员工的就业登记呢"))
    assert text.startswith("【就业登记】") and "受理条件" in text and "办理流程" in text


def test_a_visa_after_the_passport_is_not_answered_as_the_passport(chat):
    assert texts(chat("护照要带啥子")).startswith("【普通护照签发】")
    assert not texts(chat("签证在夹江能办不")).startswith("【")


def test_a_switch_back_to_a_topic_answers_the_item_asked_about_before(chat):
    chat("身分证补办要带啥子材料")
    chat("那居住证呢")
    assert texts(chat("居住证要好久")).startswith("【居住证办理】")
    text = texts(chat("身份证呢"))  # the ID card of the first question, its time limit (not the topic's options)
    assert text.startswith("【居民身份证办理（包括临时）】") and "办结时限" in text.split("\n")[1]
    assert not texts(chat("那车子过户呢")).startswith("【")  # a thing no guide in the conversation speaks of


def test_a_switch_to_a_sibling_of_the_item_in_context(chat):
    assert texts(chat("个体户注册要带啥子")).startswith("【个体工商户设立登记】")
    text = texts(chat("注销的话呢"))
    assert text.startswith("【个体工商户注销登记】") and "需要准备以下材料" in text


def test_the_hours_of_the_office_of_the_item_in_context(chat):
    assert texts(chat("房子卖了 过户要准备些啥子资料")).startswith("【不动产转移登记】")
    text = texts(chat("不动产中心几点上班"))
    assert text.startswith("【不动产转移登记】") and "办理时间" in text


def test_every_word_of_an_items_name_said_apart_names_it(chat):
    text = texts(chat("我想自己开个店创业 有没得补贴"))  # not the open-a-shop topic's items
    assert text.startswith("【创业补贴申请】")


def test_whether_it_can_be_done_after_work_asks_the_hours(chat):
    assert texts(chat("我是外省户口 在夹江打工 身份证快到期了 能在这边换不")).startswith("【居民身份证跨省异地办理】")
    text = texts(chat("我白天上班 晚上下班了去办得到不"))
    assert text.startswith("【居民身份证跨省异地办理】") and "办理时间" in text


def test_a_switch_to_a_visa_is_not_answered_as_the_one_guide_close_to_it(chat):
    assert texts(chat("去香港耍要办啥子证件")).startswith("【往来港澳通行证及签注签发】")
    assert not texts(chat("那去泰国要办签证不 签证在哪儿弄")).startswith("【")


def test_an_item_that_cannot_be_booked_ends_the_booking_and_the_next_question_is_answered(chat):
    text = texts(chat("帮我约个下周一上午办预防接种证"))
    assert "暂不支持预约" in text and "哪一项" not in text  # no form asking for another item to book
    item = guide("医保电子凭证申领")
    assert texts(chat("那医保电子凭证咋个弄")).startswith(f"【{item.name}】")
