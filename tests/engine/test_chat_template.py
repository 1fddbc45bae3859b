"""chat_template: a model's Jinja template, or the plain fallback for a model without one."""

from couple_lite.engine._chat_template import ChatTemplate


def test_plain_fallback_without_a_template():
    t = ChatTemplate(None)
    assert t.plain
    assert t.prompt("Hi?", "Be kind.", [("A", "B")]) == "Be kind.\n\nUser: A\nAssistant: B\nUser: Hi?\nAssistant:"
    assert t.stop == ["\nUser:"]  # a base model's answer ends where it starts the user's next turn


def test_a_jinja_template_gets_system_history_and_user_turns_in_order():
    tpl = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}<assistant>"
    t = ChatTemplate(tpl, eos="</s>", bos="<s>")
    assert not t.plain and t.stop == []
    assert t.prompt("Hi?", "Be kind.", [("A", "B")]) == "<system>Be kind.<user>A<assistant>B<user>Hi?<assistant>"


def test_a_model_without_a_template_stops_its_answer_at_the_next_user_turn(tiny_engine, monkeypatch):
    """The tiny model has no template: the engine passes the plain fallback's stop to llama.cpp
    for a chat answer, and none for raw text (``chat=False``)."""
    seen = []
    real = tiny_engine.llm.create_completion

    def spy(*args, **kwargs):
        seen.append(kwargs.get("stop"))
        return real(*args, **kwargs)

    monkeypatch.setattr(tiny_engine.llm, "create_completion", spy)
    tiny_engine.generate("Hi?", max_tokens=2, seed=0)
    tiny_engine.generate("Hi?", max_tokens=2, seed=0, chat=False)
    assert seen == [["\nUser:"], None]
