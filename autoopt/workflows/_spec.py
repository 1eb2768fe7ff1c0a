"""Workflow specs: a named DAG of steps, read from dicts or seed-002 YAML runbooks, validated before anything runs."""

from __future__ import annotations

import hashlib
import json
import math
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from autoopt.workflows._refs import Ref, find_refs, whole_ref

__all__ = ["ACTION_TYPES", "RunbookError", "Step", "Workflow"]

ACTION_TYPES = ("python", "http", "api", "command", "notification")
"""``api`` is an alias of ``http``."""

_SHELL_META = set(";|&`$<>()\n\\*?~!{}[]#")
_STEP_KEYS = {
    "id", "name", "action_type", "action", "parameters", "dependencies", "timeout", "retry_count", "critical",
    "compensate",
}  # fmt: skip


class RunbookError(ValueError):
    """A workflow or runbook that cannot run; the message names the step and the field."""


@dataclass(frozen=True)
class Step:
    """One step of a :class:`Workflow`.

    ``action`` is a registered callable's name (``python``), a URL
    (``http``/``api``), an argument list (``command``; a string is split
    with :func:`shlex.split` when the runbook is read, and each ``${...}``
    must fill a whole argument) or a message template (``notification``).
    ``retry_count`` counts retries, not attempts; ``timeout`` is in
    seconds; ``compensate`` names a registered callable that undoes the
    step.
    """

    id: str
    action_type: str
    action: Any
    name: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()
    timeout: float | None = None
    retry_count: int = 0
    critical: bool = False
    compensate: str | None = None

    @property
    def refs(self) -> list[Ref]:
        """The ``${...}`` references of its action and parameters."""
        return find_refs([self.action, dict(self.parameters)])


@dataclass(frozen=True)
class Workflow:
    """A named DAG of steps, validated when it is made.

    Parameters
    ----------
    name : str
    steps : sequence of Step
    parameters : mapping, optional
        The run parameters the steps may reference, by name, each with
        ``{"secret": bool, "default": value}`` (both optional). When given,
        a reference to any other parameter is refused at load.
    metadata : mapping, optional

    Raises
    ------
    RunbookError
        Duplicate or unknown step ids, a cycle, an unknown action type, a
        malformed field, a ``${...}`` that is not a reference, one to a step
        that is not an (indirect) dependency, or to an undeclared parameter,
        or a command with a shell metacharacter. Each message names the step
        and the field.

    Examples
    --------
    >>> wf = Workflow.from_yaml('''
    ... metadata: {id: restart, name: Restart a service, parameters: {service: {}}}
    ... steps:
    ...   - {id: stop, action_type: python, action: stop_service, parameters: {name: "${service}"}}
    ...   - {id: start, action_type: python, action: start_service, dependencies: [stop],
    ...      parameters: {name: "${service}", after: "${steps.stop.output.pid}"}}
    ... ''')
    >>> wf.name, wf.order()
    ('restart', ['stop', 'start'])
    >>> Workflow.from_dict({"metadata": {"id": "bad"}, "steps": [
    ...     {"id": "a", "action_type": "python", "action": "f", "dependencies": ["b"]},
    ...     {"id": "b", "action_type": "python", "action": "f", "dependencies": ["a"]}]})
    Traceback (most recent call last):
    ...
    autoopt.workflows._spec.RunbookError: workflow 'bad': the dependencies form a cycle: a -> b -> a
    """

    name: str
    steps: tuple[Step, ...]
    parameters: Mapping[str, Mapping[str, Any]] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _validate(self)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_yaml(cls, source: str | Path) -> Workflow:
        """Read a seed-002 runbook: a path to a ``.yml``/``.yaml`` file, or the YAML text itself."""
        import yaml  # lazily: `import autoopt` does not import PyYAML

        text = source
        if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and source.endswith(
            (".yml", ".yaml"))):  # fmt: skip
            text = Path(source).read_text()
        if not isinstance(text, str):
            raise TypeError(f"Workflow.from_yaml() takes a path or YAML text; got {source!r:.80}.")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RunbookError(f"runbook is not valid YAML: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> Workflow:
        """A workflow from ``{"metadata": {...}, "steps": [...]}`` (the runbook format, parsed)."""
        if not isinstance(data, Mapping):
            raise RunbookError(
                f"a runbook is a mapping with 'metadata' and 'steps'; got {type(data).__name__}"
            )
        unknown = set(data) - {"metadata", "steps"}
        if unknown:
            raise RunbookError(f"runbook: unknown top-level field(s) {sorted(unknown)}")
        meta = data.get("metadata") or {}
        if not isinstance(meta, Mapping):
            raise RunbookError("runbook field 'metadata' must be a mapping")
        name = meta.get("id", meta.get("name"))
        if not isinstance(name, str) or not name:
            raise RunbookError("runbook field 'metadata.id' must be a non-empty string")
        raw_steps = data.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            raise RunbookError(f"workflow {name!r}: field 'steps' must be a non-empty list")
        steps = tuple(_step(name, i, raw) for i, raw in enumerate(raw_steps))
        params = meta.get("parameters")
        if params is not None:
            params = _params(name, params)
        return cls(name, steps, params, {k: v for k, v in meta.items() if k != "parameters"})

    # ------------------------------------------------------------------ queries

    def step(self, step_id: str) -> Step:
        """The step ``step_id`` (``KeyError`` naming it when unknown)."""
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(f"workflow {self.name!r} has no step {step_id!r}")

    def order(self) -> list[str]:
        """The step ids in a dependency order (ties kept in file order)."""
        return _topological(self)

    def secrets(self) -> set[str]:
        """Names of the parameters marked secret."""
        return {k for k, v in (self.parameters or {}).items() if v.get("secret")}

    def digest(self) -> str:
        """SHA-256 of the workflow's canonical JSON: what a resumed run checks it still runs."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True, default=repr).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """The workflow in the runbook format (round-trips through :meth:`from_dict`)."""
        meta = {"id": self.name, **{k: v for k, v in self.metadata.items() if k != "id"}}
        if self.parameters is not None:
            meta["parameters"] = {k: dict(v) for k, v in self.parameters.items()}
        steps = []
        for s in self.steps:
            d = asdict(s)
            d["dependencies"] = list(s.dependencies)
            d["parameters"] = dict(s.parameters)
            steps.append({k: v for k, v in d.items() if v not in (None, "", [], {}) or k in ("id", "action")})
        return {"metadata": meta, "steps": steps}

    def check_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The run parameters, defaults filled in; ``RunbookError`` for a referenced one that is missing."""
        if not isinstance(params, Mapping):
            raise TypeError(f"workflow {self.name!r}: params must be a mapping; got {params!r:.80}")
        out = {k: v.get("default") for k, v in (self.parameters or {}).items() if "default" in v}
        out.update(params)
        for s in self.steps:
            for ref in s.refs:
                if ref.kind == "param" and ref.name not in out:
                    raise RunbookError(
                        f"workflow {self.name!r}, step {s.id!r}: {ref.text} names run parameter "
                        f"{ref.name!r}, which the run does not have (it has {sorted(out)})"
                    )
        return out

    def check_hosts(self, allowed_hosts: Iterable[str]) -> None:
        """``RunbookError`` for an http/api step whose host is not in ``allowed_hosts``."""
        allowed = {h.lower() for h in allowed_hosts}
        for s in self.steps:
            if s.action_type in ("http", "api"):
                host = (urlsplit(s.action).hostname or "").lower()
                if host not in allowed:
                    raise RunbookError(
                        f"workflow {self.name!r}, step {s.id!r}: field 'action' calls host {host!r}, "
                        f"which is not in the allow-list {sorted(allowed)}"
                    )


# ---------------------------------------------------------------------- parsing and validation


def _step(wf: str, i: int, raw: Any) -> Step:
    where = f"workflow {wf!r}, step #{i + 1}"
    if not isinstance(raw, Mapping):
        raise RunbookError(f"{where}: a step is a mapping; got {type(raw).__name__}")
    sid = raw.get("id")
    if not isinstance(sid, str) or not sid:
        raise RunbookError(f"{where}: field 'id' must be a non-empty string; got {sid!r}")
    where = f"workflow {wf!r}, step {sid!r}"
    unknown = set(raw) - _STEP_KEYS
    if unknown:
        raise RunbookError(f"{where}: unknown field(s) {sorted(unknown)}")
    deps = raw.get("dependencies") or []
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise RunbookError(f"{where}: field 'dependencies' must be a list of step ids; got {deps!r}")
    timeout = raw.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout)
        or timeout <= 0
    ):  # fmt: skip
        raise RunbookError(f"{where}: field 'timeout' must be a number of seconds > 0; got {timeout!r}")
    retries = raw.get("retry_count", 0)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise RunbookError(
            f"{where}: field 'retry_count' must be an int >= 0 (retries, not attempts); got {retries!r}"
        )
    critical = raw.get("critical", False)
    if not isinstance(critical, bool):
        raise RunbookError(f"{where}: field 'critical' must be true or false; got {critical!r}")
    params = raw.get("parameters") or {}
    if not isinstance(params, Mapping):
        raise RunbookError(f"{where}: field 'parameters' must be a mapping; got {params!r}")
    compensate = raw.get("compensate")
    if compensate is not None and (not isinstance(compensate, str) or not compensate):
        raise RunbookError(f"{where}: field 'compensate' must name a registered action; got {compensate!r}")
    name = raw.get("name", sid)
    if not isinstance(name, str):
        raise RunbookError(f"{where}: field 'name' must be a string; got {name!r}")
    action_type = raw.get("action_type")
    if not isinstance(action_type, str):
        raise RunbookError(
            f"{where}: field 'action_type' must be one of {list(ACTION_TYPES)}; got {action_type!r}"
        )
    action = raw.get("action")
    if action_type == "command" and isinstance(action, str):
        try:
            action = shlex.split(action)  # split once, at load: never handed to a shell
        except ValueError as exc:
            raise RunbookError(f"{where}: field 'action' is not a valid command line: {exc}") from None
    return Step(sid, action_type, action, name, dict(params), tuple(deps), None if timeout is None else float(timeout),
                retries, critical, compensate)  # fmt: skip


def _params(wf: str, raw: Any) -> dict[str, dict[str, Any]]:
    if isinstance(raw, list) and all(isinstance(p, str) for p in raw):
        return {p: {} for p in raw}
    if not isinstance(raw, Mapping):
        raise RunbookError(
            f"workflow {wf!r}: field 'metadata.parameters' must be a list of names or a mapping"
        )
    out: dict[str, dict[str, Any]] = {}
    for key, spec in raw.items():
        spec = spec or {}
        if not isinstance(key, str) or not isinstance(spec, Mapping) or set(spec) - {"secret", "default"}:
            raise RunbookError(
                f"workflow {wf!r}: parameter {key!r} must map to {{secret: bool, default: value}}; got {spec!r}"
            )
        if not isinstance(spec.get("secret", False), bool):
            raise RunbookError(f"workflow {wf!r}: parameter {key!r}: field 'secret' must be true or false")
        out[key] = dict(spec)
    return out


def _validate(wf: Workflow) -> None:
    if not isinstance(wf.name, str) or not wf.name:
        raise RunbookError(f"a workflow's name must be a non-empty string; got {wf.name!r}")
    ids: dict[str, Step] = {}
    for s in wf.steps:
        if not isinstance(s, Step):
            raise RunbookError(f"workflow {wf.name!r}: steps must be Step objects; got {s!r:.80}")
        if s.id in ids:
            raise RunbookError(f"workflow {wf.name!r}: step id {s.id!r} appears twice")
        ids[s.id] = s
    for s in wf.steps:
        where = f"workflow {wf.name!r}, step {s.id!r}"
        if s.action_type not in ACTION_TYPES:
            raise RunbookError(
                f"{where}: field 'action_type' must be one of {list(ACTION_TYPES)}; got {s.action_type!r}"
            )
        for d in s.dependencies:
            if d not in ids:
                raise RunbookError(f"{where}: field 'dependencies' names unknown step {d!r}")
        _check_action(where, s)
    order = _topological(wf)
    ancestors: dict[str, set[str]] = {}
    for sid in order:
        s = ids[sid]
        ancestors[sid] = set(s.dependencies).union(*(ancestors[d] for d in s.dependencies))
        try:
            refs = s.refs
        except ValueError as exc:
            raise RunbookError(f"workflow {wf.name!r}, step {sid!r}: {exc}") from None
        for ref in refs:
            if ref.kind == "step" and ref.name not in ancestors[sid]:
                what = "unknown step" if ref.name not in ids else "a step it does not depend on"
                raise RunbookError(
                    f"workflow {wf.name!r}, step {sid!r}: {ref.text} reads the output of {what} {ref.name!r}; "
                    "list it (or a step after it) in 'dependencies'"
                )
            if ref.kind == "param" and wf.parameters is not None and ref.name not in wf.parameters:
                raise RunbookError(
                    f"workflow {wf.name!r}, step {sid!r}: {ref.text} names run parameter {ref.name!r}, "
                    f"which 'metadata.parameters' does not declare ({sorted(wf.parameters)})"
                )


def _check_action(where: str, s: Step) -> None:
    if s.action_type == "command":
        if not isinstance(s.action, list) or not s.action or not all(isinstance(a, str) for a in s.action):
            raise RunbookError(f"{where}: field 'action' must be a command line or a list of arguments")
        for token in s.action:
            try:
                ref = whole_ref(token)
            except ValueError as exc:
                raise RunbookError(f"{where}: field 'action': {exc}") from None
            if ref is None and _SHELL_META & set(token):
                bad = "".join(sorted(_SHELL_META & set(token)))
                raise RunbookError(
                    f"{where}: field 'action' argument {token!r} holds shell metacharacter(s) {bad!r}; commands "
                    "never run through a shell, so write the argument list without them"
                )
    elif s.action_type in ("http", "api"):
        if not isinstance(s.action, str):
            raise RunbookError(f"{where}: field 'action' must be a URL; got {s.action!r}")
        parts = urlsplit(s.action)
        if parts.scheme not in ("http", "https") or not parts.hostname or "${" in parts.netloc:
            raise RunbookError(
                f"{where}: field 'action' must be an http(s) URL with a literal host (references may fill "
                f"the path and query only); got {s.action!r}"
            )
    elif not isinstance(s.action, str) or not s.action:
        raise RunbookError(f"{where}: field 'action' must be a non-empty string; got {s.action!r}")


def _topological(wf: Workflow) -> list[str]:
    """Kahn's order, ties in file order; ``RunbookError`` naming a cycle when there is one."""
    deps = {s.id: list(s.dependencies) for s in wf.steps}
    indeg = {sid: len(d) for sid, d in deps.items()}
    children: dict[str, list[str]] = {sid: [] for sid in deps}
    for sid, ds in deps.items():
        for d in ds:
            if d in children:
                children[d].append(sid)
    ready = [sid for sid in deps if indeg[sid] == 0]
    out: list[str] = []
    while ready:
        sid = ready.pop(0)
        out.append(sid)
        for c in children[sid]:
            indeg[c] -= 1
            if indeg[c] == 0:
                ready.append(c)
    if len(out) < len(deps):
        raise RunbookError(
            f"workflow {wf.name!r}: the dependencies form a cycle: {' -> '.join(_cycle(deps, set(out)))}"
        )
    return out


def _cycle(deps: Mapping[str, Sequence[str]], done: set[str]) -> list[str]:
    """One cycle among the steps not in ``done``, as a closed path of ids."""
    start = next(sid for sid in deps if sid not in done)
    path: list[str] = []
    seen: dict[str, int] = {}
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = next(d for d in deps[node] if d not in done)
    return [*path[seen[node] :], node]
