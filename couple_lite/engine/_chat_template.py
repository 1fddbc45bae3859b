"""A model's chat prompt: its own Jinja template from the GGUF file, or a plain, documented
"User: ... Assistant:" fallback for a model without one (base models)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    from llama_cpp.llama_types import ChatCompletionRequestMessage


class ChatTemplate:
    """Formats (system, earlier turns, new user turn) into the text the assistant continues."""

    def __init__(self, template: str | None, eos: str = "", bos: str = "") -> None:
        self._formatter: Jinja2ChatFormatter | None = None
        if template is not None:  # compiling a template costs ~30 ms: once per model
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._formatter = Jinja2ChatFormatter(template, eos, bos)

    @property
    def plain(self) -> bool:
        """True when the model file has no template and the plain fallback is used."""
        return self._formatter is None

    @property
    def stop(self) -> list[str]:
        """Where an answer ends without an end-of-turn token: a base model left to the plain
        fallback goes on to write the user's next turn, so its answer stops at a new "User:" line."""
        return ["\nUser:"] if self._formatter is None else []

    def prompt(self, user: str, system: str | None = None, history: Sequence[tuple[str, str]] = ()) -> str:
        if self._formatter is None:
            head = f"{system}\n\n" if system else ""
            turns = "".join(f"User: {u}\nAssistant: {a}\n" for u, a in history)
            return f"{head}{turns}User: {user}\nAssistant:"
        messages: list[ChatCompletionRequestMessage] = [{"role": "system", "content": system}] if system else []
        for u, a in history:
            messages += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
        messages.append({"role": "user", "content": user})
        return self._formatter(messages=messages).prompt
