"""Actions: python callables with idempotency keys, sinks, commands without a shell, http on an allow-list."""

from __future__ import annotations

import http.server
import json
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from autoopt.workflows import ActionError, Actions, Step, Workflow, render


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/redirect-out":
            self.send_response(302)
            self.send_header("Location", "http://evil.example.com/steal")
            self.end_headers()
        elif self.path == "/redirect-in":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/json")
            self.end_headers()
        elif self.path == "/big":
            self._reply(b"x" * 5000, "text/plain")
        elif self.path == "/json":
            self._reply(json.dumps({"ok": True}).encode(), "application/json")
        else:
            self.send_response(404)
            self.end_headers()

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        echo = {"got": json.loads(self.rfile.read(length)), "auth": self.headers.get("Authorization")}
        self._reply(json.dumps(echo).encode(), "application/json")

    def _reply(self, body: bytes, ctype: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:  # quiet
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def http_step(url: str) -> Step:
    return Step("call", "http", url)


def test_python_actions_get_the_same_idempotency_key_on_every_retry() -> None:
    actions = Actions()
    keys: list[str] = []

    @actions.register("charge")
    def charge(amount: int, idempotency_key: str) -> dict[str, Any]:
        keys.append(idempotency_key)
        return {"charged": amount}

    actions.register("plain", lambda x: x + 1)  # takes no key: gets none
    step = Step("pay", "python", "charge")
    for _ in range(2):
        assert actions.run(step, {"amount": 5}, "charge", "run-7/pay") == {"charged": 5}
    assert keys == ["run-7/pay", "run-7/pay"]
    assert actions.run(Step("p", "python", "plain"), {"x": 1}, "plain", "k") == 2
    with pytest.raises(ActionError, match="no python action 'nope' is registered"):
        actions.run(Step("q", "python", "nope"), {}, "nope", "k")
    wf = Workflow("w", (Step("a", "python", "charge", compensate="refund"), Step("b", "python", "ghost")))
    assert actions.missing(wf.steps) == ["ghost", "refund"]


def test_notifications_go_to_the_channel_sink() -> None:
    actions = Actions()
    sent: list[tuple[str, dict[str, Any]]] = []
    actions.register_sink("slack", lambda message, **kw: sent.append((message, kw)))
    step = Step("n", "notification", "done: ${host}")
    message = render(step.action, {"host": "db1"}, {})
    actions.run(step, {"channel": "slack", "recipients": ["#ops"]}, message, "k")
    assert sent == [("done: db1", {"recipients": ["#ops"]})]
    with pytest.raises(ActionError, match="no notification sink is registered for channel 'email'"):
        actions.run(step, {"channel": "email"}, message, "k")


def test_commands_are_off_by_default_and_never_use_a_shell() -> None:
    argv = [sys.executable, "-c", "import sys; print(sys.argv[1])", "; echo pwned"]
    with pytest.raises(ActionError, match="command actions are off"):
        Actions().run(Step("c", "command", argv), {}, argv, "k")
    out = Actions(allow_commands=True).run(Step("c", "command", argv), {}, argv, "k")
    assert out["stdout"] == "; echo pwned\n"  # one literal argument: nothing was interpreted
    fail = [sys.executable, "-c", "import sys; sys.exit(3)"]
    with pytest.raises(ActionError, match="exited with 3"):
        Actions(allow_commands=True).run(Step("c", "command", fail), {}, fail, "k")


def test_render_fills_whole_values_and_strings() -> None:
    outputs = {"snap": {"id": 42, "meta": {"zone": "a"}}}
    params = {"service": "api", "replicas": 3}
    assert render("${replicas}", params, outputs) == 3  # a whole reference keeps its type
    assert render("${steps.snap.output.id}", params, outputs) == 42
    assert render({"x": ["${service}-${steps.snap.output.meta.zone}"]}, params, outputs) == {"x": ["api-a"]}
    with pytest.raises(KeyError, match="has no key 'missing'"):
        render("${steps.snap.output.missing}", params, outputs)
    with pytest.raises(KeyError, match="the run has no parameter 'nope'"):
        render("${nope}", params, outputs)


def test_http_only_reaches_allowed_hosts(server: str) -> None:
    allowed = Actions(allowed_hosts=["127.0.0.1"], max_response_bytes=1000)
    assert allowed.run(http_step(server + "/json"), {}, server + "/json", "k") == {
        "status": 200,
        "body": {"ok": True},
    }
    put = allowed.run(
        http_step(server + "/records/1"),
        {"method": "PUT", "data": {"target": "10.0.1.2"}, "headers": {"Authorization": "token"}},
        server + "/records/1",
        "k",
    )
    assert put["body"] == {"got": {"target": "10.0.1.2"}, "auth": "token"}
    assert allowed.run(http_step(server), {}, server + "/redirect-in", "k")["body"] == {"ok": True}
    with pytest.raises(ActionError, match=r"evil\.example\.com.*is not allowed.*a redirect from"):
        allowed.run(http_step(server), {}, server + "/redirect-out", "k")
    with pytest.raises(ActionError, match="longer than 1000 bytes"):
        allowed.run(http_step(server), {}, server + "/big", "k")
    with pytest.raises(ActionError, match="returned HTTP 404"):
        allowed.run(http_step(server), {}, server + "/missing", "k")
    with pytest.raises(ActionError, match="is not allowed: http actions may call only \\[\\]"):
        Actions().run(http_step(server + "/json"), {}, server + "/json", "k")  # off by default


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="'max_response_bytes'"):
        Actions(max_response_bytes=0)
    with pytest.raises(TypeError, match="'allow_commands' must be a bool"):
        Actions(allow_commands=1)  # type: ignore[arg-type]
