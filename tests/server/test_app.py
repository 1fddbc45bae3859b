"""serve: a real `cli.py serve` process on 127.0.0.1 talked to with the official openai client
(steered and unsteered answers, streaming, two concurrent clients, errors), and the app on an
in-process uvicorn with a steerer whose pace the test sets (queue limit, client disconnect)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="serve needs the 'server' extra: pip install -e '.[server]'")
openai = pytest.importorskip("openai", reason="the serve tests talk through the 'openai' client (test extra)")
uvicorn = pytest.importorskip("uvicorn")

from couple_lite.engine.models import file_sha256
from couple_lite.server.app import ServeLimits, create_app
from couple_lite.steering.steerer import Steerer
from couple_lite.values.objective import make_objective
from couple_lite.values.systems import load_value_system
from couple_lite.vectors.extraction import extract
from couple_lite.vectors.pack import save_pack
from tests.packs import calibrated_pack

ROOT = Path(__file__).resolve().parents[2]
MF = load_value_system("moral_foundations")
KEY = "test-key-123"
QUESTION = [{"role": "user", "content": "What should I do this weekend?"}]
GREEDY = dict(max_tokens=12, temperature=0.0)


@pytest.fixture(scope="module")
def tiny_pack(tiny_engine, tiny_model_path, tmp_path_factory):
    """A calibrated-looking pack made for the tiny model file itself (its real hash)."""
    import numpy as np

    ex = extract(tiny_engine, MF, "mean", "context", layers=(1, 2))
    rng = np.random.default_rng(0)
    pack = calibrated_pack(
        ex,
        "moral_foundations",
        np.eye(6) * 4 + rng.normal(scale=0.5, size=(6, 6)),
        10.0,
        sha256=file_sha256(tiny_model_path),
        model_name=tiny_model_path.stem,
        unsteered=dict(zip(MF.names, 3.5 + rng.normal(scale=0.3, size=6))),
    )
    return save_pack(pack, tmp_path_factory.mktemp("serve") / "tiny-mf.npz")


def _post(base: str, body, key: str | None = KEY) -> tuple[int, dict]:
    """POST raw bytes (or JSON of an object) to /v1/chat/completions with the standard library."""
    conn = http.client.HTTPConnection(base.removeprefix("http://"), timeout=60)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    conn.request("POST", "/v1/chat/completions", data, headers)
    r = conn.getresponse()
    out = r.status, json.loads(r.read())
    conn.close()
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_model_path, tiny_pack):
    """`cli.py serve` in its own process; ready once uvicorn logs that it is running."""
    port = _free_port()
    cmd = [
        sys.executable,
        str(ROOT / "cli.py"),
        "serve",
        "--model",
        str(tiny_model_path),
        "--pack",
        str(tiny_pack),
        "--system",
        "moral_foundations",
        "--port",
        str(port),
        "--api-key",
        KEY,
        "--threads",
        "2",
        "--max-tokens-limit",
        "64",
        "--log-level",
        "info",
    ]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seen = []
    for line in proc.stderr:  # blocks until uvicorn reports the bound port (or the process ends)
        seen.append(line)
        if "Uvicorn running on" in line:
            break
    else:
        pytest.fail("serve did not start:\n" + "".join(seen))
    threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep draining its log
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server + "/v1", api_key=KEY, max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def local(tiny_engine, tiny_pack):
    """The same model and pack in this process: what each request must get alone."""
    from couple_lite.vectors.pack import load_pack

    pack = load_pack(tiny_pack, file_sha256(tiny_engine.model_path), tiny_engine.n_layer, tiny_engine.n_embd)
    return Steerer(tiny_engine, pack, "tiny")


def _alone(steerer, values, priority=None):
    plan = None if values is None else steerer.plan(make_objective(values, priority, MF), strict=True)
    return steerer.generate(QUESTION[0]["content"], plan, **GREEDY)


def test_steered_and_unsteered_answers_equal_the_library_s(client, local):
    plain = client.chat.completions.create(model="tiny", messages=QUESTION, **GREEDY)
    assert plain.choices[0].message.content == _alone(local, None)
    assert plain.model_extra["couple_lite"] is None
    steered = client.chat.completions.create(
        model="tiny",
        messages=QUESTION,
        **GREEDY,
        extra_body={"values": "care=6,authority=1", "priority": "care>authority"},
    )
    assert steered.choices[0].message.content == _alone(local, "care=6,authority=1", "care>authority")
    assert steered.choices[0].message.content != plain.choices[0].message.content
    info = steered.model_extra["couple_lite"]
    assert info["objective"]["targets"]["care"] == 6.0 and set(info["counterfactual"]) == set(MF.names)
    assert steered.usage.completion_tokens > 0 and steered.choices[0].finish_reason in ("stop", "length")
    models = client.models.list()
    assert [m.id for m in models.data] == ["tiny"]


def test_mode_prompt_gives_the_model_the_counterfactual_in_words(client):
    body = {"values": "care=6,authority=1"}
    vector = client.chat.completions.create(model="tiny", messages=QUESTION, **GREEDY, extra_body=body)
    words = client.chat.completions.create(
        model="tiny", messages=QUESTION, **GREEDY, extra_body={**body, "mode": "prompt"}
    )
    info = words.model_extra["couple_lite"]
    assert info["mode"] == "prompt" and "care" in info["system_prompt"]
    assert (
        vector.model_extra["couple_lite"]["mode"] == "vector"
        and vector.model_extra["couple_lite"]["system_prompt"] is None
    )
    # the words are part of what the model read (usage counts them)
    assert words.usage.prompt_tokens > vector.usage.prompt_tokens + 50
    with pytest.raises(openai.BadRequestError, match="mode"):
        client.chat.completions.create(model="tiny", messages=QUESTION, **GREEDY, extra_body={**body, "mode": "words"})


def test_streaming_gives_the_same_answer_and_the_plan_first(client):
    body = {"values": {"care": 6, "authority": 1}}
    whole = client.chat.completions.create(model="tiny", messages=QUESTION, **GREEDY, extra_body=body)
    chunks = list(
        client.chat.completions.create(model="tiny", messages=QUESTION, **GREEDY, extra_body=body, stream=True)
    )
    assert chunks[0].model_extra["couple_lite"]["coefficients"] == whole.model_extra["couple_lite"]["coefficients"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_two_concurrent_clients_with_opposite_objectives_each_get_their_own_answer(client, local):
    objectives = [("care=6,authority=1", "care>authority"), ("care=1,authority=6", "authority>care")] * 3

    def ask(obj):
        stream = client.chat.completions.create(
            model="tiny", messages=QUESTION, **GREEDY, stream=True, extra_body={"values": obj[0], "priority": obj[1]}
        )
        return "".join(c.choices[0].delta.content or "" for c in stream)

    with ThreadPoolExecutor(2) as pool:
        got = list(pool.map(ask, objectives))
    want = {obj: _alone(local, *obj) for obj in objectives[:2]}
    assert want[objectives[0]] != want[objectives[1]]
    assert got == [want[o] for o in objectives]


def test_errors_are_json_with_the_cli_s_one_line_message(server, client):
    with pytest.raises(openai.BadRequestError, match="unknown value 'kare'"):
        client.chat.completions.create(model="tiny", messages=QUESTION, extra_body={"values": "kare=6"})
    with pytest.raises(openai.BadRequestError, match="over this server's limit of 64"):
        client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=65)
    with pytest.raises(openai.BadRequestError, match="end with a user turn"):
        client.chat.completions.create(model="tiny", messages=[{"role": "assistant", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="'stop' is not supported"):
        client.chat.completions.create(model="tiny", messages=QUESTION, stop=["\n"])
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server + "/v1", api_key="wrong", max_retries=0).models.list()
    status, out = _post(server, b"{not json")
    assert status == 400 and out["error"]["message"] == "the body is not JSON"
    status, out = _post(server, {"messages": [{"role": "user", "content": "x" * 300_000}]})
    assert status == 413 and "request body over" in out["error"]["message"]
    status, out = _post(server, {"messages": QUESTION}, key=None)
    assert status == 401 and "Authorization: Bearer" in out["error"]["message"]
    conn = http.client.HTTPConnection(server.removeprefix("http://"), timeout=60)
    conn.request("GET", "/health")  # health needs no key
    assert json.loads(conn.getresponse().read())["status"] == "ok"
    conn.close()


# -- queue and disconnect, on the app in this process with a steerer the test paces ------------


class PacedSteerer:
    """Stands in for a Steerer: yields one piece each time the test releases ``step``."""

    def __init__(self, real):
        self.engine, self.system, self.model_name = real.engine, real.system, "paced"
        self.plan, self.delivered_system, self.system_prompt = real.plan, real.delivered_system, real.system_prompt
        self.step = threading.Semaphore(0)
        self.pieces = 0
        self.cancels: list[threading.Event] = []

    def stream(self, prompt, plan, cancel=None, **generation):
        self.cancels.append(cancel)
        for _ in range(generation["max_tokens"]):
            self.step.acquire()
            if cancel.is_set():  # as Steerer.stream: checked after each token
                return
            self.pieces += 1
            yield "x"

    def generate(self, prompt, plan, **generation):
        return "".join(self.stream(prompt, plan, **generation))


@contextlib.contextmanager
def in_process(app, log_level="warning"):
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    srv = uvicorn.Server(uvicorn.Config(app, log_level=log_level))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        srv.should_exit = True
        thread.join(timeout=30)


def test_queue_limit_and_a_disconnect_frees_the_model(local):
    paced = PacedSteerer(local)
    app = create_app(paced, "paced", limits=ServeLimits(max_queue=0))
    with in_process(app) as url:
        try:
            conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
            conn.request(
                "POST",
                "/v1/chat/completions",
                json.dumps({"messages": QUESTION, "stream": True, "max_tokens": 64}),
                {"Content-Type": "application/json"},
            )
            first = conn.getresponse()
            events = (line for line in iter(first.readline, b"") if line.strip())
            assert next(events).startswith(b"data: ")  # the role chunk, sent before any token
            paced.step.release()
            assert json.loads(next(events)[6:])["choices"][0]["delta"]["content"] == "x"
            status, out = _post(url, {"messages": QUESTION}, key=None)
            assert status == 429 and "retry later" in out["error"]["message"]
            first.close()
            conn.close()
            # the client is gone: its generation is told to stop, makes no further piece, frees the worker
            assert paced.cancels[0].wait(timeout=30)
            paced.step.release()
            app.state.server.worker.submit(lambda: None).result(timeout=30)
            assert paced.pieces == 1 and app.state.server.pending == 0
            paced.step.release(3)
            status, out = _post(url, {"messages": QUESTION, "max_tokens": 3}, key=None)
            assert status == 200 and out["choices"][0]["message"]["content"] == "xxx"
        finally:
            paced.step.release(1000)


class BrokenSteerer(PacedSteerer):
    """Fails after its first piece, as an unexpected error inside generation would."""

    def stream(self, prompt, plan, cancel=None, **generation):
        yield "x"
        raise RuntimeError("the model went away")


def test_an_error_mid_stream_ends_the_stream_with_an_error_event(local):
    app = create_app(BrokenSteerer(local), "broken")
    with in_process(app, log_level="critical") as url:
        conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
        conn.request(
            "POST",
            "/v1/chat/completions",
            json.dumps({"messages": QUESTION, "stream": True}),
            {"Content-Type": "application/json"},
        )
        events = [line for line in conn.getresponse().read().splitlines() if line.strip()]
        conn.close()
        assert json.loads(events[1][6:])["choices"][0]["delta"]["content"] == "x"
        assert json.loads(events[2][6:])["error"]["message"] == "generation failed: the model went away"
        app.state.server.worker.submit(lambda: None).result(timeout=30)  # the worker is past that request
        assert events[-1] == b"data: [DONE]" and app.state.server.pending == 0
        status, out = _post(url, {"messages": QUESTION}, key=None)  # not streamed: a JSON 500, not a traceback
        assert status == 500 and "the model went away" in out["error"]["message"]
