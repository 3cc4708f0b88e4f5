"""What modules on the start-up path use instead of heavier imports: `NamedTuple` and `N_`.

`NamedTuple`: the client's value classes, written as `typing.NamedTuple`, without importing `typing`.

The client's start-up path (import, then construct `Feedback` with feedback off) has a budget
of 1.2× `import platformdirs, orjson` (SPEC §6), and importing `typing` alone costs about a
tenth of that. Type checkers see `typing.NamedTuple`; at run time the same class statement
builds a `collections.namedtuple` subclass that keeps the class's methods and properties.
"""

from __future__ import annotations

import collections

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple
else:

    class _NamedTupleMeta(type):
        def __new__(mcls, name, bases, namespace):
            if not bases:
                return super().__new__(mcls, name, bases, namespace)
            fields = list(namespace.get("__annotations__", {}))
            defaults = [namespace[f] for f in fields if f in namespace]
            base = collections.namedtuple(name, fields, defaults=defaults, module=namespace.get("__module__"))
            members = {k: v for k, v in namespace.items() if k not in fields and k != "__annotations__"}
            return type(name, (base,), {**members, "__slots__": ()})

    class NamedTuple(metaclass=_NamedTupleMeta):
        """Base of value classes: annotated fields (defaults last), plus methods and properties."""


def N_(message: str) -> str:
    """Mark ``message`` for the catalogs (`_i18n.py`); it is translated where it is shown."""
    return message


__all__ = ["N_", "NamedTuple"]
