"""chat_template: a model's Jinja template, or the plain fallback for a model without one."""

from couple_lite.chat_template import ChatTemplate


def test_plain_fallback_without_a_template():
    t = ChatTemplate(None)
    assert t.plain
    assert t.prompt("Hi?", "Be kind.", [("A", "B")]) == "Be kind.\n\nUser: A\nAssistant: B\nUser: Hi?\nAssistant:"


def test_a_jinja_template_gets_system_history_and_user_turns_in_order():
    tpl = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}<assistant>"
    t = ChatTemplate(tpl, eos="</s>", bos="<s>")
    assert not t.plain
    assert t.prompt("Hi?", "Be kind.", [("A", "B")]) == "<system>Be kind.<user>A<assistant>B<user>Hi?<assistant>"
