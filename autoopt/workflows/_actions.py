"""What workflow steps may do: registered Python callables and notification sinks, and opt-in http and commands.

Nothing here runs a shell. Commands are argument lists, run only when
:class:`Actions` is made with ``allow_commands=True``. HTTP requests go only
to hosts on the allow-list (empty by default: no requests), no redirect may
leave it, and a response longer than ``max_response_bytes`` is an error.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from autoopt._validation import check_callable, check_real, check_size, check_str
from autoopt.workflows._spec import Step

__all__ = ["ActionError", "Actions"]


class ActionError(RuntimeError):
    """A step's action could not run, or failed: not allowed, unknown, a non-zero exit, an HTTP error."""


class Actions:
    """The registry a workflow's steps are run against.

    Parameters
    ----------
    allowed_hosts : iterable of str
        Hosts ``http``/``api`` steps may call (exact names, case-insensitive);
        empty: no requests at all.
    max_response_bytes : int
        Longest response body read; a longer one fails the step.
    http_timeout : float
        Seconds per request when the step has no ``timeout``.
    allow_commands : bool
        Run ``command`` steps (off by default). They run as argument lists,
        never through a shell.
    command_runner : callable, optional
        ``runner(argv, timeout) -> (returncode, stdout, stderr)``: how an
        allowed command runs (default: :func:`subprocess.run` without a
        shell, killed at ``timeout``). Tests pass a fake.
    http_transport : callable, optional
        ``transport(method, url, headers, body, timeout, limit) ->
        (status, content_type, body_bytes)``: how an allowed request is sent
        (default: urllib, following redirects only within the allow-list
        and reading at most ``limit`` bytes). Tests pass a fake; the
        allow-list is checked before it is called.

    Examples
    --------
    >>> actions = Actions()
    >>> @actions.register("add")
    ... def add(a, b):
    ...     return a + b
    >>> actions.run(Step("s", "python", "add"), {"a": 1, "b": 2}, "add", "run-1/s")
    3
    >>> actions.run(Step("c", "command", ["ls"]), {}, ["ls"], "run-1/c")
    Traceback (most recent call last):
    ...
    autoopt.workflows._actions.ActionError: step 'c': command actions are off; Actions(allow_commands=True) runs them (as argument lists, never through a shell)
    """

    def __init__(
        self,
        *,
        allowed_hosts: Iterable[str] = (),
        max_response_bytes: int = 1_000_000,
        http_timeout: float = 30.0,
        allow_commands: bool = False,
        command_runner: Callable[[list[str], float | None], tuple[int, str, str]] | None = None,
        http_transport: Callable[..., tuple[int, str, bytes]] | None = None,
    ) -> None:
        hosts = list(allowed_hosts) if not isinstance(allowed_hosts, str) else [allowed_hosts]
        self.allowed_hosts = frozenset(
            check_str(h, "Actions() argument 'allowed_hosts'").lower() for h in hosts
        )
        self.max_response_bytes = check_size(max_response_bytes, "Actions() argument 'max_response_bytes'")
        self.http_timeout = check_real(
            http_timeout, "Actions() argument 'http_timeout'", low=0.0, low_open=True
        )
        if not isinstance(allow_commands, bool):
            raise TypeError(f"Actions() argument 'allow_commands' must be a bool; got {allow_commands!r}.")
        self.allow_commands = allow_commands
        if command_runner is not None:
            check_callable(command_runner, "Actions() argument 'command_runner'")
        if http_transport is not None:
            check_callable(http_transport, "Actions() argument 'http_transport'")
        self.command_runner = command_runner or _run_command
        self.http_transport = http_transport
        self._lock = threading.Lock()
        self._python: dict[str, Callable[..., Any]] = {}
        self._sinks: dict[str, Callable[..., Any]] = {}

    def __getstate__(self) -> dict[str, Any]:
        # Pickled (cloudpickle) to run steps on processes and dask workers; the lock stays behind.
        state = dict(self.__dict__)
        del state["_lock"]
        with self._lock:
            state["_python"] = dict(self._python)
            state["_sinks"] = dict(self._sinks)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ registration

    def register(self, name: str, fn: Callable[..., Any] | None = None) -> Any:
        """Register ``fn`` as the python action ``name`` (or decorate it: ``@actions.register("name")``)."""
        check_str(name, "register() argument 'name'")

        def add(f: Callable[..., Any]) -> Callable[..., Any]:
            check_callable(f, "register() argument 'fn'")
            with self._lock:
                self._python[name] = f
            return f

        return add if fn is None else add(fn)

    def register_sink(self, channel: str, fn: Callable[..., Any]) -> None:
        """Register ``fn(message, **parameters)`` as the notification sink of ``channel``."""
        check_str(channel, "register_sink() argument 'channel'")
        check_callable(fn, "register_sink() argument 'fn'")
        with self._lock:
            self._sinks[channel] = fn

    def names(self) -> set[str]:
        """The registered python actions."""
        with self._lock:
            return set(self._python)

    def missing(self, steps: Iterable[Step]) -> list[str]:
        """The python actions (and compensations) ``steps`` name that are not registered."""
        have = self.names()
        wanted = [s.action for s in steps if s.action_type == "python"] + [
            s.compensate for s in steps if s.compensate
        ]
        return sorted({n for n in wanted if n not in have})

    # ------------------------------------------------------------------ running

    def run(self, step: Step, parameters: Mapping[str, Any], action: Any, idempotency_key: str) -> Any:
        """Run ``step`` with its ``action`` and ``parameters`` already rendered; return its output.

        A python action gets ``idempotency_key=`` when it accepts that
        keyword (or ``**kwargs``): the same key for every retry of the step.
        """
        where = f"step {step.id!r}"
        kind = step.action_type
        if kind == "python":
            return self.call(where, action, parameters, idempotency_key)
        if kind == "notification":
            params = dict(parameters)
            channel = params.pop("channel", "default")
            with self._lock:
                sink = self._sinks.get(channel)
            if sink is None:
                raise ActionError(f"{where}: no notification sink is registered for channel {channel!r}")
            return sink(str(action), **params)
        if kind == "command":
            return self._command(where, action, step.timeout)
        return self._http(where, str(action), parameters, step.timeout)

    def compensate(self, step: Step, parameters: Mapping[str, Any], output: Any, idempotency_key: str) -> Any:
        """Run ``step``'s compensating action: the registered python callable ``step.compensate`` with the
        step's rendered ``parameters``, and ``output=`` (what the step returned) when it accepts that."""
        if step.compensate is None:
            raise ActionError(f"step {step.id!r} has no compensate action")
        where = f"step {step.id!r} (compensate)"
        with self._lock:
            fn = self._python.get(step.compensate)
        kwargs = dict(parameters)
        if fn is not None and _accepts(fn, "output"):
            kwargs["output"] = output
        return self.call(where, step.compensate, kwargs, idempotency_key)

    def call(self, where: str, name: str, parameters: Mapping[str, Any], idempotency_key: str) -> Any:
        """Call the registered python action ``name`` with ``parameters`` (and the key, if it takes one)."""
        with self._lock:
            fn = self._python.get(name)
        if fn is None:
            raise ActionError(
                f"{where}: no python action {name!r} is registered (register it before running)"
            )
        kwargs = dict(parameters)
        if _accepts(fn, "idempotency_key"):
            kwargs["idempotency_key"] = idempotency_key
        return fn(**kwargs)

    def _command(self, where: str, args: Any, timeout: float | None) -> dict[str, Any]:
        if not self.allow_commands:
            raise ActionError(
                f"{where}: command actions are off; Actions(allow_commands=True) runs them "
                "(as argument lists, never through a shell)"
            )
        argv = [str(a) for a in args]
        try:
            code, stdout, stderr = self.command_runner(argv, timeout)
        except FileNotFoundError:
            raise ActionError(f"{where}: command {argv[0]!r} was not found") from None
        out = {"returncode": code, "stdout": stdout, "stderr": stderr}
        if code != 0:
            raise ActionError(f"{where}: command {argv[0]!r} exited with {code}: {stderr.strip()[:500]}")
        return out

    def _http(
        self, where: str, url: str, parameters: Mapping[str, Any], timeout: float | None
    ) -> dict[str, Any]:
        self._check_host(where, url)
        method = str(parameters.get("method", "GET")).upper()
        headers = {str(k): str(v) for k, v in dict(parameters.get("headers") or {}).items()}
        body = None
        if parameters.get("data") is not None:
            body = json.dumps(parameters["data"]).encode()
            headers.setdefault("Content-Type", "application/json")
        transport = self.http_transport or self._urllib
        try:
            status, ctype, raw = transport(
                method, url, headers, body, timeout or self.http_timeout, self.max_response_bytes + 1
            )
        except ActionError as exc:
            raise ActionError(f"{where}: {exc}") from None
        if len(raw) > self.max_response_bytes:
            raise ActionError(
                f"{where}: the response of {url} is longer than {self.max_response_bytes} bytes"
            )
        text = raw.decode("utf-8", errors="replace")
        payload: Any = text
        if "json" in ctype:
            try:
                payload = json.loads(text)
            except ValueError:
                payload = text
        return {"status": status, "body": payload}

    def _urllib(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float, limit: int
    ) -> tuple[int, str, bytes]:
        where = f"{method} {url}"
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        opener = urllib.request.build_opener(_AllowListRedirects(self, where))
        try:
            with opener.open(request, timeout=timeout) as response:
                return response.status, response.headers.get("Content-Type", ""), response.read(limit)
        except urllib.error.HTTPError as exc:
            raise ActionError(f"{where} returned HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ActionError):
                raise exc.reason from None
            raise ActionError(f"{where} failed: {exc.reason}") from None

    def _check_host(self, where: str, url: str) -> None:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or host not in self.allowed_hosts:
            raise ActionError(
                f"{where}: {url!r} is not allowed: http actions may call only {sorted(self.allowed_hosts)} "
                "(Actions(allowed_hosts=...))"
            )


class _AllowListRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to a host on the allow-list."""

    def __init__(self, actions: Actions, where: str) -> None:
        self.actions = actions
        self.where = where

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        try:
            self.actions._check_host(self.where, newurl)
        except ActionError as exc:
            raise urllib.error.URLError(ActionError(f"{exc} (a redirect from {req.full_url})")) from None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _run_command(argv: list[str], timeout: float | None) -> tuple[int, str, str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, shell=False, check=False)
    return done.returncode, done.stdout, done.stderr


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
