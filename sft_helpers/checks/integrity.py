"""Notice when code in the notebook has swapped a name a check relies on.

A check compares the learner's code with a reference. If an earlier cell did
``sft_helpers.attention.scaled_dot_product_attention = my_fn`` (or ``torch.softmax = ...``, or
``checks.check_x = lambda f: ...``), a check that looked the reference up by its public name
would compare the learner's code with itself and pass. So:

* :func:`seal` (called once when ``sft_helpers.checks`` is imported) takes a snapshot of the
  names the checks and their references depend on: every function, class and module bound in the
  ``sft_helpers`` modules loaded by then (the checks' own modules included), in ``torch``,
  ``torch.nn`` and ``torch.nn.functional``, the methods of the torch classes the references use, and
  each library function's code object and defaults. References are held privately from then on
  (``sft_helpers.checks.references``).
* :func:`rebound` compares the live names with the snapshot and lists what differs, as
  ``"sft_helpers.attention.scaled_dot_product_attention (now my_fn, defined in the notebook)"``.
  Every check calls :func:`rebound` before it starts, after each call of learner code and before it
  returns; a difference turns its result red with :data:`REBOUND_MESSAGE`. The grader calls
  :func:`record_rebound` after the submission's last cell and flags the names.
* A name already replaced by notebook code when the snapshot was taken (the swap ran before
  ``import sft_helpers.checks``) is reported too: the snapshot knows it holds code from a notebook.

This is a tripwire in the learner's own process, not a wall: code that edits this module's
snapshot can still fool it. The grader runs every submission in its own process, inserts the
``import`` of the checks before the submission's first cell, and flags code that names this module.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import sys
import sysconfig
from collections.abc import Iterable
from typing import Any

from sft_helpers import settings

__all__ = ["REBOUND_MESSAGE", "Rebound", "rebound", "record_rebound", "seal", "verify", "watch"]

REBOUND_MESSAGE = (
    "this check cannot be trusted in this kernel: code in the notebook replaced {names}, which the "
    "checks compare against"
)
REBOUND_HINT = (
    "do not assign to names inside sft_helpers, torch or the checks (to use your own version in later "
    "cells, pass it through checks.learner_or_reference); restart the kernel, remove the assignment and "
    "run the notebook again"
)

#: Modules outside sft_helpers whose names the references and checks use.
EXTRA_MODULES = ("torch", "torch.nn", "torch.nn.functional")
#: Classes whose methods the references and checks run (a method swapped on them changes results).
EXTRA_CLASSES = (
    "torch.Tensor",
    "torch.nn.Module",
    "torch.nn.Linear",
    "torch.nn.LayerNorm",
    "torch.nn.Embedding",
    "torch.nn.Dropout",
    "torch.nn.MultiheadAttention",
    "torch.nn.TransformerEncoderLayer",
)

_MISSING = object()


class Rebound(Exception):
    """Names the checks rely on were replaced by notebook code; ``names`` describes each."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(rebound_message(names))
        self.names = list(names)


@dataclasses.dataclass(frozen=True)
class _Entry:
    value: Any
    code: Any = None
    defaults: Any = None
    kwdefaults: Any = None


# (module name, attribute) -> entry; (class path, attribute) -> entry; module name -> module object
_NAMES: dict[tuple[str, str], _Entry] = {}
_CLASS_ATTRS: dict[tuple[str, str], _Entry] = {}
_MODULES: dict[str, Any] = {}
_CLASSES: dict[str, type] = {}  # class path -> the class object
_LATE: dict[str, Any] = {}  # "module.attr" -> a reference first imported by a check (sklearn, peft, ...)
_EARLY: dict[str, str] = {}  # names that already held notebook code when the snapshot was taken
_KEYS: dict[str, frozenset[str]] = {}  # module or class path -> the names its namespace had
_BUILTINS = frozenset(dir(__builtins__) if not isinstance(__builtins__, dict) else __builtins__)

# Folders of library code (this package, the interpreter, site-packages); core.py uses them too.
LIBRARY_DIRS = tuple(
    sorted(
        {
            os.path.abspath(p) + os.sep
            for p in (
                os.path.dirname(os.path.dirname(os.path.abspath(__file__))),  # the sft_helpers package
                sys.prefix,
                sys.base_prefix,
                sys.exec_prefix,
                sysconfig.get_paths().get("stdlib", ""),
                sysconfig.get_paths().get("purelib", ""),
                sysconfig.get_paths().get("platlib", ""),
            )
            if p
        }
    )
)


def _code_file(obj: Any) -> str:
    func = obj.__func__ if inspect.ismethod(obj) else obj
    return func.__code__.co_filename if inspect.isfunction(func) else ""


def _outside_libraries(filename: str) -> bool:
    if not filename:
        return False
    if filename.startswith("<"):  # <ipython-input-...>, <stdin>; <string> is exec'd code (dataclasses too)
        return filename.startswith(("<ipython-input", "<stdin>", "<cell"))
    path = os.path.abspath(filename)
    return not any(path.startswith(d) for d in LIBRARY_DIRS)


def from_notebook(obj: Any) -> bool:
    """True when ``obj`` is a function, method or class written outside the installed libraries.

    A notebook cell's code has a file name like ``<ipython-input-3-...>`` or
    ``/tmp/ipykernel_123/456.py`` and its module is ``__main__``; the course, torch and the
    standard library live under the package folder or the interpreter's prefixes.
    """
    if not (inspect.isroutine(obj) or inspect.isclass(obj)) or inspect.isbuiltin(obj):
        return False
    if getattr(obj, "__module__", None) == "__main__":
        return True
    if inspect.isclass(obj):
        module = sys.modules.get(getattr(obj, "__module__", "") or "")
        return module is not None and _outside_libraries(getattr(module, "__file__", "") or "")
    return _outside_libraries(_code_file(obj))


def _watched(value: Any) -> bool:
    return inspect.isroutine(value) or inspect.isclass(value) or inspect.ismodule(value)


def _entry(value: Any) -> _Entry:
    func = value.__func__ if inspect.ismethod(value) else value
    if inspect.isfunction(func):
        return _Entry(value, func.__code__, func.__defaults__, func.__kwdefaults__)
    return _Entry(value)


def _func_of(value: Any) -> Any:
    """The plain function behind a function, staticmethod, classmethod or property (else None)."""
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    elif isinstance(value, property):
        value = value.fget
    return value if inspect.isfunction(value) else None


def _class_attrs(cls: type) -> dict[str, _Entry]:
    out = {}
    for name, value in vars(cls).items():
        func = _func_of(value)
        if func is not None:
            out[name] = _Entry(value, func.__code__, func.__defaults__, func.__kwdefaults__)
    return out


def _describe(obj: Any) -> str:
    if obj is _MISSING:
        return "deleted"
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or type(obj).__name__
    if from_notebook(obj):
        return f"now {name}, defined in the notebook"
    return f"now {getattr(obj, '__module__', '?')}.{name}"


def _strict(name: str) -> bool:
    """In the course's own modules every change counts; in torch and other libraries, which rebind
    some of their own names on import (``torch.manual_seed`` once ``torch._dynamo`` loads), only a
    replacement written in the notebook does."""
    return name == "sft_helpers" or name.startswith("sft_helpers.")


def _snapshot_module(name: str) -> None:
    module = sys.modules.get(name)
    if module is None or name in _MODULES:
        return
    _MODULES[name] = module
    _KEYS[name] = frozenset(vars(module))
    for attr, value in list(vars(module).items()):
        if attr.startswith("__") or not _watched(value):
            continue
        _NAMES[(name, attr)] = _entry(value)
        if from_notebook(value):
            _EARLY[f"{name}.{attr}"] = _describe(value)
        if inspect.isclass(value) and getattr(value, "__module__", "") == name:
            _snapshot_class(f"{name}.{attr}", value)


def _snapshot_class(path: str, cls: type) -> None:
    _CLASSES[path] = cls
    _KEYS[path] = frozenset(vars(cls))
    for key, entry in _class_attrs(cls).items():
        _CLASS_ATTRS[(path, key)] = entry


def _resolve(path: str) -> Any:
    module_name, _, attr = path.rpartition(".")
    module = sys.modules.get(module_name)
    if module is None:
        __import__(module_name)
        module = sys.modules[module_name]
    return getattr(module, attr)


def seal(extra_modules: Iterable[str] = ()) -> None:
    """Take the snapshot (idempotent: names already in it are never replaced by later values)."""
    for name in sorted(sys.modules):
        if _strict(name):
            _snapshot_module(name)
    for name in (*EXTRA_MODULES, *extra_modules):
        _snapshot_module(name)
    for path in EXTRA_CLASSES:
        if path in _CLASSES:
            continue
        try:
            cls = _resolve(path)
        except (ImportError, AttributeError):
            continue
        _snapshot_class(path, cls)


def watch(dotted: str, value: Any) -> None:
    """Add a reference imported later (scikit-learn's ``f1_score``, peft, transformers) to the snapshot."""
    _LATE.setdefault(dotted, value)


def snapshot_of(dotted: str) -> Any:
    """The object the snapshot holds for ``module.attr`` (``KeyError`` when it holds none)."""
    if dotted in _LATE:
        return _LATE[dotted]
    module_name, _, attr = dotted.rpartition(".")
    return _NAMES[(module_name, attr)].value


def _changed(strict: bool, current: Any) -> bool:
    return strict or current is _MISSING or from_notebook(current)


def rebound() -> list[str]:
    """What differs from the snapshot now: ``["sft_helpers.attention.f (now my_f, defined in the notebook)"]``."""
    found = [f"{name} ({how}, before the checks were imported)" for name, how in _EARLY.items()]
    for name, module in _MODULES.items():
        if _strict(name) and sys.modules.get(name, module) is not module:
            found.append(f"the module {name} (replaced in sys.modules)")
    for (module_name, attr), entry in _NAMES.items():
        dotted = f"{module_name}.{attr}"
        current = vars(_MODULES[module_name]).get(attr, _MISSING)
        if current is not entry.value:
            if dotted not in _EARLY and _changed(_strict(module_name), current):
                found.append(f"{dotted} ({_describe(current)})")
            continue
        if entry.code is not None:
            func = current.__func__ if inspect.ismethod(current) else current
            if getattr(func, "__code__", None) is not entry.code:
                found.append(f"{dotted} (its __code__ was replaced)")
            elif func.__defaults__ is not entry.defaults or func.__kwdefaults__ is not entry.kwdefaults:
                found.append(f"{dotted} (its default arguments were replaced)")
    for dotted, value in _LATE.items():
        module_name, _, attr = dotted.rpartition(".")
        module = sys.modules.get(module_name)
        current = getattr(module, attr, _MISSING) if module is not None else value
        if current is not value and _changed(False, current):
            found.append(f"{dotted} ({_describe(current)})")
    for name, module in _MODULES.items():  # a new global that shadows a builtin (len, print, ...)
        for attr in (set(vars(module)) - _KEYS[name]) & _BUILTINS:
            found.append(f"{name}.{attr} (a new global hiding the builtin {attr})")
    for path, cls in _CLASSES.items():  # a new class attribute that hides an inherited method
        strict = _strict(path.rpartition(".")[0])
        for attr in set(vars(cls)) - _KEYS[path]:
            value = vars(cls)[attr]
            hides = any(attr in vars(base) for base in cls.__mro__[1:]) or _func_of(value) is not None
            if hides and (strict or from_notebook(value) or from_notebook(_func_of(value))):
                found.append(f"{path}.{attr} ({_describe(value)}, added to the class)")
    for (path, attr), entry in _CLASS_ATTRS.items():
        current = vars(_CLASSES[path]).get(attr, _MISSING)
        if current is not entry.value:
            if _changed(_strict(path.rpartition(".")[0]), current) or from_notebook(_func_of(current)):
                found.append(f"{path}.{attr} ({_describe(current)})")
        elif entry.code is not None and getattr(_func_of(current), "__code__", None) is not entry.code:
            found.append(f"{path}.{attr} (its __code__ was replaced)")
    return found


def verify() -> None:
    """Raise :class:`Rebound` when :func:`rebound` finds anything."""
    names = rebound()
    if names:
        raise Rebound(names)


def rebound_message(names: list[str], limit: int = 3) -> str:
    """:data:`REBOUND_MESSAGE` naming the first ``limit`` names."""
    shown = "; ".join(names[:limit]) + (f"; and {len(names) - limit} more" if len(names) > limit else "")
    return REBOUND_MESSAGE.format(names=shown)


def record_rebound(path: str | None = None) -> list[str]:
    """Append ``{"rebound": [...]}`` to the grader's results file (``SFT_CHECK_RESULTS``); return the names."""
    names = rebound()
    target = path or os.environ.get(settings.CHECK_RESULTS_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"rebound": names}) + "\n")
    return names
