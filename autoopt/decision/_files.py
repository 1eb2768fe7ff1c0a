"""Rule files: a :class:`DecisionEngine`'s rules to and from a versioned YAML or JSON document."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from autoopt.decision import _rules

if TYPE_CHECKING:
    from autoopt.decision._context import ContextSchema
    from autoopt.models import DecisionRule

__all__ = ["RuleFiles"]


class RuleFiles:
    """The rule-file methods of :class:`~autoopt.decision.DecisionEngine` (a mixin; the engine supplies
    ``list_rules``, ``schema``, ``register_context_key`` and ``add_rule``)."""

    schema: ContextSchema
    list_rules: Callable[[], list[DecisionRule]]
    register_context_key: Callable[..., Any]
    add_rule: Callable[[DecisionRule], Any]

    def to_dict(self) -> dict[str, Any]:
        """The rules as a rule-file document: ``version``, registered ``context_keys`` and ``rules``.

        Raises
        ------
        TypeError
            If a rule has Python callables (a lambda rule), naming the rule.
        """
        return _rules.rules_to_dict(self.list_rules(), self.schema.registered())

    def to_yaml(self) -> str:
        """The rules as YAML text (:meth:`to_dict`); write it to a file to keep it."""
        return _rules.dump_yaml(self.to_dict())

    def to_json(self) -> str:
        """The rules as JSON text (:meth:`to_dict`)."""
        import json

        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], **kwargs: Any) -> Self:
        """An engine holding the rules of a rule-file document; ``kwargs`` go to the constructor."""
        rules, keys = _rules.rules_from_dict(doc, "from_dict()")
        engine = cls(**kwargs)
        for key in keys:
            engine.register_context_key(**key)
        for rule in rules:
            engine.add_rule(rule)
        return engine

    @classmethod
    def from_yaml(cls, source: str | Path, **kwargs: Any) -> Self:
        """An engine from a YAML rule file: a :class:`pathlib.Path` is read, a ``str`` is the text.

        Read with ``yaml.safe_load``; the document must have ``version: 1`` and ``rules``.

        Examples
        --------
        >>> from autoopt.decision import DecisionEngine
        >>> engine = DecisionEngine.from_yaml('''
        ... version: 1
        ... rules:
        ...   - name: hot
        ...     condition: cpu_usage > 80 and error_rate < 0.05
        ...     decision_type: scale_up
        ...     parameters: {instances: "ceil(request_rate / 400)"}
        ...     priority: 10
        ... ''')
        >>> d = engine.evaluate({"cpu_usage": 90, "error_rate": 0.0, "request_rate": 900.0})
        >>> d.parameters, d.delta, d.expression
        ({'instances': 3}, 3, 'cpu_usage > 80 and error_rate < 0.05')
        """
        return cls.from_dict(_rules.load_yaml(_rules.read_text(source, "from_yaml")), **kwargs)

    @classmethod
    def from_json(cls, source: str | Path, **kwargs: Any) -> Self:
        """An engine from a JSON rule file (see :meth:`from_yaml`)."""
        return cls.from_dict(_rules.load_json(_rules.read_text(source, "from_json")), **kwargs)
