"""The machinery every exercise check is built on.

A chapter check is a function that takes the learner's function (or class) and returns a
:class:`CheckResult`. Write it with the pieces of this module::

    from sft_helpers.checks import references as _ref   # references held privately
    from sft_helpers.checks.core import (
        call_learner, check, compare_tensors, diagnose, fail_if, fresh_generator, passed,
    )

    @check("scaled dot-product attention", references=[_ref.scaled_dot_product_attention])
    def check_scaled_dot_product_attention(fn):
        gen = fresh_generator()                        # inputs the learner has never seen
        q, k, v = (torch.randn(2, 5, 8, generator=gen) for _ in range(3))
        expected, _ = _ref.scaled_dot_product_attention(q, k, v)
        got = call_learner(fn, q, k, v)                # copies args, time limit, quotes errors
        fail_if(compare_types(got, tuple, name="the return value"))
        unscaled = torch.softmax(q @ k.transpose(-2, -1), -1) @ v
        fail_if(
            compare_tensors(got[0], expected, name="output"),
            hint=diagnose(got[0], {"did you forget to divide by sqrt(d)?": unscaled}),
        )
        return passed("output and weights match on random inputs of 3 shapes")

What each piece guarantees:

* :func:`check` (decorator): the check never raises. ``fail_if``/:class:`CheckFailed`, a learner
  exception, a time-out, a reference call and even a bug in the check all become a red
  :class:`CheckResult`. It names the result, restores the global random states of ``random``,
  ``numpy`` and ``torch`` (running a check does not change what the notebook computes next), and
  records the final result for the grader (see below). ``references=[...]`` lists the
  library implementations (objects or dotted names) the learner must not hand in or call.
  Before the check, after each call of learner code and before it returns, the decorator asks
  :mod:`sft_helpers.checks.integrity` whether notebook code rebound a name the checks rely on
  (``attention.split_heads = my_fn``); if so the result is red and names it, because the check
  would otherwise compare the learner's code with itself. Expected values come only from
  :mod:`sft_helpers.checks.references`, bound when the checks are imported.
* :func:`call_learner`: runs learner code on deep copies of the arguments (the check never
  modifies the learner's objects; the learner cannot modify the check's), with a time limit,
  while watching for calls to the declared references. A learner exception becomes a failed
  result that quotes the learner's own line (the last traceback frame in the learner's code,
  not the check's or torch's); ``NotImplementedError`` means "not implemented yet".
* :func:`compare_tensors`, :func:`compare_values`, :func:`compare_types`, :func:`diagnose`:
  return ``None`` when things match, else a sentence that teaches ("your output has shape
  (2, 5, 8) but (2, 8, 5) was expected: ...").
* :func:`allow_reference`: a context manager for *tests* that check the reference itself
  passes (``with allow_reference(): assert check_x(reference)``).

How a hanging learner function is stopped (``call_learner``):

1. In the main thread on Unix (the notebook kernel runs cells there) a ``SIGALRM`` timer
   (``signal.setitimer``) raises :class:`CheckTimeout` in the learner's code. It also
   interrupts ``time.sleep`` and other blocking calls that retry after signals.
2. In every case a trace function (``sys.settrace``) checks the deadline on each line the
   learner's own code runs and on each Python function call; this stops pure-Python loops
   where no signal is available (other threads, Windows).
3. Elsewhere than the main thread the learner runs in a daemon worker thread; when it is still
   busy at the deadline (blocked in C code) the check reports the time-out and abandons it.

A single long C operation (a huge matmul) cannot be interrupted in-process: torch finishes
it first. The grader's per-notebook wall-clock limit, enforced on a separate process, is the
backstop. :class:`CheckTimeout` derives from ``BaseException`` so ``except Exception`` in the
learner's code does not swallow it.

How a submission that merely uses the reference is caught: before the call, the learner's
object is compared with the references (the object itself, a ``functools.partial`` or
wrapper of it, a subclass, or anything defined in an ``sft_helpers`` module); during the call
the trace function flags any frame that runs a reference's code object, so
``def f(q, k, v): return ref(q, k, v)`` fails even when ``ref`` was imported under another name.

Results for the grader: when the environment variable ``SFT_CHECK_RESULTS`` names a file, each
final check result is appended to it as one JSON line ``{"name", "check", "passed",
"message", "cell"}`` (``cell`` is ``SFT_CHECK_CELL``, set by the grader before each check
cell). Only a decorated check records its result; building a :class:`CheckResult` writes
nothing (a hand-made ``CheckResult(True, ...)`` in a notebook is no result for the grader).
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import dataclasses
import functools
import html
import importlib
import inspect
import json
import math
import os
import secrets
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sft_helpers import settings
from sft_helpers.checks import integrity

__all__ = [
    "DEFAULT_TIMEOUT",
    "default_timeout",
    "CheckFailed",
    "CheckResult",
    "CheckTimeout",
    "LearnerError",
    "allow_reference",
    "call_learner",
    "check",
    "compare_tensors",
    "compare_types",
    "compare_values",
    "diagnose",
    "fail_if",
    "failed",
    "fresh_generator",
    "fresh_seed",
    "passed",
    "registered_checks",
]

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_TIMEOUT: float = 20.0
"""Seconds one call of learner code may take unless ``SFT_CHECK_TIMEOUT`` says otherwise."""


def default_timeout() -> float:
    """``SFT_CHECK_TIMEOUT`` (read at each check, so a grader can set it late) or 20 s."""
    value = os.environ.get(settings.CHECK_TIMEOUT_ENV, "").strip()
    if not value:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ValueError(f"SFT_CHECK_TIMEOUT={value!r} is not a positive number of seconds (e.g. 20).")
    return seconds


RESULTS_ENV = settings.CHECK_RESULTS_ENV
CELL_ENV = settings.CHECK_CELL_ENV
NOT_IMPLEMENTED_MESSAGE = "not implemented yet: replace `raise NotImplementedError` with your code"


# ----------------------------------------------------------------------------------------------
# The result
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class CheckResult:
    """The outcome of one check: ``passed``, a ``message`` that teaches, an optional ``hint``.

    Renders as a green (passed) or red (not yet) box in Jupyter and as plain text elsewhere;
    ``bool(result)`` is ``result.passed``.
    """

    passed: bool
    message: str
    hint: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.passed, bool):
            raise TypeError(f"CheckResult(passed=...) must be a bool, got {type(self.passed).__name__}")
        self.message = str(self.message)
        self.hint = str(self.hint or "")

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        head = "PASSED" if self.passed else "NOT YET"
        title = f"{head} {self.name}: " if self.name else f"{head}: "
        text = title + self.message
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython console
        printer.text(str(self))

    def _repr_html_(self) -> str:
        color, background, mark, head = (
            ("#2e7d32", "#e8f5e9", "&#10004;", "passed")
            if self.passed
            else ("#c62828", "#ffebee", "&#10008;", "not yet")
        )
        name = f"{html.escape(self.name)}: " if self.name else ""
        hint = f'<div style="margin-top:4px"><b>hint:</b> {html.escape(self.hint)}</div>' if self.hint else ""
        return (
            f'<div style="border-left:6px solid {color};background:{background};padding:6px 10px;'
            f'margin:4px 0;color:#1b1b1b;white-space:pre-wrap;font-family:sans-serif">'
            f'<b style="color:{color}">{mark} {name}{head}</b>'
            f"<div>{html.escape(self.message)}</div>{hint}</div>"
        )

    def record(self) -> None:
        """Append this result as one JSON line to the file named by ``SFT_CHECK_RESULTS``, if set."""
        path = os.environ.get(RESULTS_ENV)
        if not path:
            return
        state = _STATE.get()
        line = json.dumps(
            {
                "name": self.name,
                "check": state.check if state else "",
                "passed": self.passed,
                "message": self.message,
                "cell": os.environ.get(CELL_ENV, ""),
            }
        )
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def passed(message: str, hint: str = "") -> CheckResult:
    """A green result (inside a decorated check the decorator adds the name)."""
    return CheckResult(True, message, hint)


def failed(message: str, hint: str = "") -> CheckResult:
    """A red result (inside a decorated check the decorator adds the name)."""
    return CheckResult(False, message, hint)


class CheckFailed(Exception):
    """Raise inside a check to stop it with a red result (see :func:`fail_if`)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class LearnerError(Exception):
    """Raised by :func:`call_learner` when learner code failed; carries the red result."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.message)
        self.result = result


class CheckTimeout(BaseException):
    """Raised inside learner code at the deadline (a BaseException: ``except Exception`` won't catch it)."""


def fail_if(message: str | None, hint: str = "") -> None:
    """Stop the check with a red result when ``message`` (from a ``compare_*`` helper) is not empty."""
    if message:
        raise CheckFailed(message, hint)


# ----------------------------------------------------------------------------------------------
# The decorator
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class _CheckState:
    name: str
    check: str
    references: tuple[Any, ...]
    timeout: float


_STATE: contextvars.ContextVar[_CheckState | None] = contextvars.ContextVar("sft_check_state", default=None)
_ALLOW_REFERENCE: contextvars.ContextVar[bool] = contextvars.ContextVar("sft_allow_reference", default=False)
_REGISTRY: dict[str, str] = {}


def registered_checks() -> dict[str, str]:
    """``{check function name: exercise name}`` for every check defined with :func:`check`."""
    return dict(_REGISTRY)


@contextlib.contextmanager
def allow_reference() -> Iterator[None]:
    """For tests only: let a check accept the reference implementation itself."""
    token = _ALLOW_REFERENCE.set(True)
    try:
        yield
    finally:
        _ALLOW_REFERENCE.reset(token)


def check(name: str, *, references: Sequence[Any] = (), timeout: float | None = None) -> Callable[[F], F]:
    """Decorate a check function ``f(learner, ...)`` so it always returns a named CheckResult.

    ``name`` is the exercise's name as learners and the grader see it. ``references`` lists
    the library implementations (objects or dotted names such as
    ``"sft_helpers.attention.scaled_dot_product_attention"``) that the learner's code must
    neither be nor call. ``timeout`` is the per-call limit for :func:`call_learner`.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"check(name=...) needs a non-empty exercise name, got {name!r}")
    refs = tuple(references)

    def decorate(func: F) -> F:
        _REGISTRY[func.__name__] = name

        @functools.wraps(func)
        def wrapper(learner: Any = None, *args: Any, **kwargs: Any) -> CheckResult:
            state = _CheckState(name, func.__name__, refs, default_timeout() if timeout is None else timeout)
            token = _STATE.set(state)
            saved = _save_rng()
            try:
                result = _run_check(func, learner, args, kwargs, state)
                swapped = integrity.rebound()  # also after the check: learner code ran inside it
                if swapped:
                    result = failed(integrity.rebound_message(swapped), integrity.REBOUND_HINT)
                result.name = result.name or name
                result.record()
                return result
            finally:
                _restore_rng(saved)
                _STATE.reset(token)

        wrapper.exercise_name = name  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _run_check(
    func: Callable[..., Any], learner: Any, args: tuple[Any, ...], kwargs: dict[str, Any], state: _CheckState
) -> CheckResult:
    try:
        integrity.verify()  # a reference swapped by notebook code would make the check compare it with itself
        if learner is None:
            return failed(
                "the check received None instead of your function",
                "pass the function (or class) itself, e.g. check_x(my_function), without calling it",
            )
        if state.references and not _ALLOW_REFERENCE.get():
            used = _is_reference(learner, _reference_objects(state.references))
            if used:
                return failed(
                    f"this is the library's reference implementation ({used}), not your own code",
                    "write the function yourself in the exercise cell; the library version is there to compare with",
                )
        result = func(learner, *args, **kwargs)
        if not isinstance(result, CheckResult):
            raise TypeError(f"check {state.check} returned {type(result).__name__}, not a CheckResult")
        return result
    except CheckFailed as stop:
        return failed(stop.message, stop.hint)
    except integrity.Rebound as swapped:
        return failed(str(swapped), integrity.REBOUND_HINT)
    except LearnerError as error:
        return error.result
    except CheckTimeout:
        return failed(
            f"your code did not finish within {state.timeout:g} s", "look for a loop that never ends"
        )
    except Exception as bug:  # the check itself broke: report, never raise into the notebook
        where = _last_frame(bug.__traceback__)
        return failed(
            f"the check could not finish: {type(bug).__name__}: {bug}{where}",
            "this usually means your function returned something of an unexpected kind; "
            "if your output looks right, please report this as a bug in the check",
        )


# ----------------------------------------------------------------------------------------------
# Calling learner code
# ----------------------------------------------------------------------------------------------
def call_learner(fn: Callable[..., Any], *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
    """Call ``fn(*args, **kwargs)`` safely and return its result.

    The arguments (and ``fn`` itself when it is an object with state, such as a module
    instance or bound method) are deep-copied; the call is stopped after ``timeout`` seconds
    (default: the check's, else :data:`DEFAULT_TIMEOUT`); a call of a reference declared by the
    enclosing :func:`check` is detected. Any failure raises :class:`LearnerError` carrying a
    red :class:`CheckResult` (the decorator returns it), quoting the learner's own line.
    """
    if not callable(fn):
        raise LearnerError(
            failed(
                f"expected a function or class, got {_describe(fn)}",
                "pass the function itself, e.g. check_x(my_function), not its result my_function(...)",
            )
        )
    state = _STATE.get()
    limit = timeout if timeout is not None else (state.timeout if state else default_timeout())
    if not (isinstance(limit, (int, float)) and limit > 0):
        raise ValueError(f"call_learner(timeout=...) must be a positive number of seconds, got {limit!r}")
    refs = () if (state is None or _ALLOW_REFERENCE.get()) else _reference_objects(state.references)
    fn_copy = _copy_callable(fn)
    args, kwargs = copy.deepcopy((args, kwargs))
    watch = _Watch(_reference_codes(refs), time.monotonic() + limit)

    def target() -> Any:
        return fn_copy(*args, **kwargs)

    try:
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            value = _run_with_alarm(target, watch, limit)
        else:
            value = _run_in_worker(target, watch, limit)
    except CheckTimeout as stop:
        where = _learner_line(stop.__traceback__)
        raise LearnerError(
            failed(
                f"your code did not finish within {limit:g} s{where}",
                "look for a loop whose condition never becomes false, or work that grows too fast",
            )
        ) from None
    except KeyboardInterrupt:
        raise
    except NotImplementedError as error:
        hint = str(error).strip()
        raise LearnerError(failed(NOT_IMPLEMENTED_MESSAGE, hint)) from None
    except BaseException as error:  # the learner's bug, of any kind (SystemExit included)
        raise LearnerError(_learner_exception_result(error)) from None
    if state is not None:
        integrity.verify()  # the learner's code may have swapped a reference while it ran
    if watch.reference_hit:
        raise LearnerError(
            failed(
                f"your code calls the library's reference implementation ({watch.reference_hit})",
                "write the computation yourself; you may use torch operations but not the solution",
            )
        )
    return value


class _Watch:
    """A trace function that enforces a deadline and notices reference code running."""

    def __init__(self, codes: frozenset[Any], deadline: float) -> None:
        self.codes = codes
        self.deadline = deadline
        self.reference_hit = ""

    def global_trace(self, frame: Any, event: str, arg: Any) -> Any:
        code = frame.f_code
        if code in self.codes and not self.reference_hit:
            self.reference_hit = _code_name(frame)
        if time.monotonic() > self.deadline:
            raise CheckTimeout()
        if _is_learner_file(code.co_filename):
            return self.local_trace
        return None

    def local_trace(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "line" and time.monotonic() > self.deadline:
            raise CheckTimeout()
        return self.local_trace


def _run_with_alarm(target: Callable[[], Any], watch: _Watch, limit: float) -> Any:
    armed = [True]

    def on_alarm(signum: int, frame: Any) -> None:
        if armed[0]:
            raise CheckTimeout()

    watch.deadline += 0.25  # the alarm comes first; the trace is the fallback
    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    started = time.monotonic()
    old_timer = signal.setitimer(signal.ITIMER_REAL, limit)
    old_trace = sys.gettrace()
    sys.settrace(watch.global_trace)
    try:
        return target()
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.settrace(old_trace)
        signal.signal(signal.SIGALRM, old_handler)
        if old_timer[0] > 0:  # an outer timer was running: give it back what is left of it
            left = old_timer[0] - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), old_timer[1])


def _run_in_worker(target: Callable[[], Any], watch: _Watch, limit: float) -> Any:
    box: dict[str, Any] = {}

    def run() -> None:
        sys.settrace(watch.global_trace)
        try:
            box["value"] = target()
        except BaseException as error:  # handed to the calling thread
            box["error"] = error
        finally:
            sys.settrace(None)

    worker = threading.Thread(target=run, name="sft-check-learner", daemon=True)
    worker.start()
    worker.join(limit + 0.5)
    if worker.is_alive():  # blocked in C code: report and abandon the (daemon) thread
        raise CheckTimeout()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _copy_callable(fn: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isfunction(fn) or inspect.isclass(fn) or inspect.isbuiltin(fn):
        return fn
    try:
        return copy.deepcopy(fn)
    except Exception:  # an object that cannot be copied: call it as it is
        return fn


# ----------------------------------------------------------------------------------------------
# Telling learner code from library code, quoting lines
# ----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4096)
def _is_learner_file(filename: str) -> bool:
    """True for code the learner wrote: notebook cells, scripts; not the library, torch or stdlib."""
    if filename.startswith("<"):  # <ipython-input-...>, <stdin>, exec'd strings; not <frozen ...>
        return not filename.startswith("<frozen")
    path = os.path.abspath(filename) if filename else ""
    return not any(path.startswith(d) for d in integrity.LIBRARY_DIRS)


def _learner_frame(tb: Any) -> traceback.FrameSummary | None:
    frames = traceback.extract_tb(tb)
    mine = [f for f in frames if _is_learner_file(f.filename)]
    return mine[-1] if mine else None


def _learner_line(tb: Any) -> str:
    frame = _learner_frame(tb)
    if frame is None:
        return ""
    code = f": `{frame.line.strip()}`" if frame.line else ""
    return f" (stopped in `{frame.name}`, line {frame.lineno}{code})"


def _last_frame(tb: Any) -> str:
    frames = traceback.extract_tb(tb)
    if not frames:
        return ""
    f = frames[-1]
    return f" (in {os.path.basename(f.filename)}, line {f.lineno})"


def _learner_exception_result(error: BaseException) -> CheckResult:
    frame = _learner_frame(error.__traceback__)
    text = f"your code raised {type(error).__name__}: {error}".rstrip(": ")
    if frame is not None:
        text += f"\n  in `{frame.name}`, line {frame.lineno}"
        if frame.line:
            text += f": {frame.line.strip()}"
    hint = "read the error above the quoted line; try your function on a small input in a new cell"
    if isinstance(error, RuntimeError) and "shape" in str(error):
        hint = "a shape mismatch: print the .shape of each tensor on that line"
    return failed(text, hint)


# ----------------------------------------------------------------------------------------------
# References
# ----------------------------------------------------------------------------------------------
def _reference_objects(references: Iterable[Any]) -> tuple[Any, ...]:
    out = []
    for ref in references:
        if isinstance(ref, str):
            module_name, _, attr = ref.rpartition(".")
            if not module_name:
                raise ValueError(f"reference {ref!r} must be a dotted name such as 'sft_helpers.attention.f'")
            ref = _captured(module_name, attr)
        out.append(ref)
    return tuple(out)


def _captured(module_name: str, attr: str) -> Any:
    """The object captured when the checks were imported (or on first use), not what the name holds now."""
    dotted = f"{module_name}.{attr}"
    try:
        return integrity.snapshot_of(dotted)
    except KeyError:
        pass
    ref = getattr(importlib.import_module(module_name), attr)
    if integrity.from_notebook(ref):
        now = getattr(ref, "__qualname__", type(ref).__name__)
        raise integrity.Rebound([f"{dotted} (now {now}, defined in the notebook)"])
    integrity.watch(dotted, ref)
    return ref


def _functions_of(obj: Any) -> Iterator[Any]:
    if inspect.isclass(obj):
        for value in vars(obj).values():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if isinstance(value, property):
                yield from (f for f in (value.fget, value.fset) if f is not None)
            elif inspect.isfunction(value):
                yield value
    else:
        obj = getattr(obj, "__func__", obj)
        yield inspect.unwrap(obj) if callable(obj) else obj


def _reference_codes(references: Iterable[Any]) -> frozenset[Any]:
    codes = set()
    for ref in references:
        for func in _functions_of(ref):
            code = getattr(inspect.unwrap(func), "__code__", None)
            if code is not None:
                codes.add(code)
    return frozenset(codes)


def _qualified(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def _code_name(frame: Any) -> str:
    module = frame.f_globals.get("__name__", "?")
    return f"{module}.{getattr(frame.f_code, 'co_qualname', frame.f_code.co_name)}"


def _is_reference(obj: Any, references: Sequence[Any]) -> str:
    """A description of the reference ``obj`` is (or wraps, or subclasses), else ``""``."""
    seen = 0
    while seen < 10:  # unwrap partials, bound methods, decorators
        seen += 1
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif inspect.ismethod(obj):
            obj = obj.__func__
        elif hasattr(obj, "__wrapped__"):
            obj = obj.__wrapped__
        else:
            break
    candidates = [obj] if (inspect.isclass(obj) or inspect.isroutine(obj)) else [obj, type(obj)]
    ref_codes = _reference_codes(references)
    for cand in candidates:
        if any(cand is ref for ref in references):
            return _qualified(cand)
        if getattr(cand, "__code__", None) in ref_codes:
            return _qualified(cand)
        if inspect.isclass(cand):
            for base in cand.__mro__:
                if any(base is ref for ref in references):
                    return _qualified(base)
        module = getattr(cand, "__module__", None) or ""
        if module.startswith("sft_helpers.") and not module.startswith("sft_helpers.checks"):
            return _qualified(cand)
    return ""


# ----------------------------------------------------------------------------------------------
# Random states: a check does not change what the notebook computes next
# ----------------------------------------------------------------------------------------------
def _save_rng() -> dict[str, Any]:
    saved: dict[str, Any] = {}
    import random

    saved["random"] = random.getstate()
    if "numpy" in sys.modules:
        saved["numpy"] = sys.modules["numpy"].random.get_state()
    if "torch" in sys.modules:
        saved["torch"] = sys.modules["torch"].get_rng_state()
    return saved


def _restore_rng(saved: Mapping[str, Any]) -> None:
    import random

    random.setstate(saved["random"])
    if "numpy" in saved:
        sys.modules["numpy"].random.set_state(saved["numpy"])
    if "torch" in saved:
        sys.modules["torch"].set_rng_state(saved["torch"])


def fresh_seed() -> int:
    """A seed from the operating system: each run of a check sees new inputs."""
    return secrets.randbits(62)


def fresh_generator(seed: int | None = None) -> Any:
    """A ``torch.Generator`` seeded freshly (or with ``seed``), independent of the global RNG."""
    import torch

    return torch.Generator().manual_seed(fresh_seed() if seed is None else seed)


# ----------------------------------------------------------------------------------------------
# Comparisons that teach
# ----------------------------------------------------------------------------------------------
def _is_tensor(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _describe(x: Any) -> str:
    if x is None:
        return "None (did you forget `return`?)"
    if _is_tensor(x):
        return f"a tensor of shape {tuple(x.shape)}"
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} of {len(x)} item{'s' if len(x) != 1 else ''}"
    module = type(x).__module__
    kind = type(x).__name__ if module == "builtins" else f"{module}.{type(x).__name__}"
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def _index(flat: int, shape: Sequence[int]) -> tuple[int, ...]:
    idx = []
    for size in reversed(shape):
        idx.append(flat % size)
        flat //= size
    return tuple(reversed(idx))


def compare_tensors(
    got: Any, expected: Any, name: str = "output", atol: float = 1e-5, rtol: float = 1e-4
) -> str | None:
    """``None`` when ``got`` matches the tensor ``expected``; else a message about what differs.

    Checked in the order a learner can fix them: kind (a tensor at all), shape, dtype,
    NaN/inf, then values (how many differ, the largest difference and where).
    """
    import torch

    if not isinstance(expected, torch.Tensor):
        raise TypeError(
            f"compare_tensors(expected=...) must be a torch.Tensor, got {type(expected).__name__}"
        )
    if not isinstance(got, torch.Tensor):
        extra = ""
        if isinstance(got, tuple) and got and isinstance(got[0], torch.Tensor):
            extra = ": did you return a tuple where a single tensor was expected?"
        elif type(got).__module__.startswith("numpy"):
            extra = ": use torch operations (or torch.from_numpy) so the result stays a tensor"
        return f"your {name} is {_describe(got)}, but a tensor of shape {tuple(expected.shape)} was expected{extra}"
    got_shape, exp_shape = tuple(got.shape), tuple(expected.shape)
    if got_shape != exp_shape:
        text = f"your {name} has shape {got_shape} but {exp_shape} was expected"
        if sorted(got_shape) == sorted(exp_shape):
            text += ": the same sizes in another order, is a transpose or permute missing or swapped?"
        elif len(got_shape) != len(exp_shape):
            text += f": {len(got_shape)} dimensions instead of {len(exp_shape)}, check the axis of a sum/mean, a squeeze/unsqueeze or keepdim"
        elif got.numel() == expected.numel():
            text += ": the same number of elements, check the view/reshape"
        return text
    if got.dtype != expected.dtype:
        text = f"your {name} has dtype {got.dtype} but {expected.dtype} was expected"
        if expected.dtype.is_floating_point and not got.dtype.is_floating_point:
            text += ": an integer or boolean result, did a comparison, argmax or integer division sneak in?"
        return text
    g = got.detach().cpu()
    e = expected.detach().cpu()
    if g.dtype == torch.bool or not (g.is_floating_point() or g.is_complex()):
        wrong = g != e
        if not bool(wrong.any()):
            return None
        first = _index(int(wrong.flatten().nonzero()[0]), got_shape)
        return (
            f"your {name} differs at {int(wrong.sum())} of {g.numel()} positions; the first is index "
            f"{first} (yours {g[first].item()!r}, expected {e[first].item()!r})"
        )
    for bad, label in ((torch.isnan, "NaN"), (torch.isinf, "inf")):
        extra_bad = bad(g) & ~bad(e)
        if bool(extra_bad.any()):
            first = _index(int(extra_bad.flatten().nonzero()[0]), got_shape)
            why = (
                " (e.g. a softmax over a row that is all -inf, or a division by zero)"
                if label == "NaN"
                else ""
            )
            return f"your {name} contains {label} at {int(extra_bad.sum())} positions, first at index {first}{why}"
    close = torch.isclose(g, e, atol=atol, rtol=rtol, equal_nan=True)
    if bool(close.all()):
        return None
    diff = (g - e).abs().nan_to_num(nan=math.inf)
    diff[close] = 0
    flat = int(diff.flatten().argmax())
    where = _index(flat, got_shape)
    return (
        f"your {name} has the right shape but different values at {int((~close).sum())} of {g.numel()} "
        f"positions; the largest difference is {float(diff.flatten()[flat]):.3g} at index {where} "
        f"(yours {g[where].item():.4g}, expected {e[where].item():.4g})"
    )


def compare_types(got: Any, expected_type: type | tuple[type, ...], name: str = "output") -> str | None:
    """``None`` when ``got`` is an instance of ``expected_type``; else a message."""
    if isinstance(got, expected_type):
        return None
    types = expected_type if isinstance(expected_type, tuple) else (expected_type,)
    wanted = " or ".join(t.__name__ for t in types)
    return f"your {name} is {_describe(got)}, but a {wanted} was expected"


def compare_values(
    got: Any, expected: Any, name: str = "output", atol: float = 1e-5, rtol: float = 1e-4
) -> str | None:
    """Compare tensors, numbers, strings, and (nested) lists/tuples/dicts of them with messages."""
    if _is_tensor(expected):
        return compare_tensors(got, expected, name, atol, rtol)
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        if got == expected and type(got) is type(expected):
            return None
        return f"your {name} is {got!r} but {expected!r} was expected"
    if isinstance(expected, (int, float)):
        if _is_tensor(got) and got.numel() == 1:
            return f"your {name} is a one-element tensor; return a Python number with .item()"
        if isinstance(got, bool) or not isinstance(got, (int, float)) and not hasattr(got, "__float__"):
            return f"your {name} is {_describe(got)}, but a number was expected"
        g = float(got)
        if math.isnan(g) and not math.isnan(float(expected)):
            return f"your {name} is NaN but {expected!r} was expected"
        if math.isclose(g, float(expected), abs_tol=atol, rel_tol=rtol):
            return None
        return f"your {name} is {g:.6g} but {float(expected):.6g} was expected"
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            return f"your {name} is {_describe(got)}, but a dict was expected"
        missing = [k for k in expected if k not in got]
        extra = [k for k in got if k not in expected]
        if missing or extra:
            return (
                f"your {name} has keys {sorted(map(str, got))} but {sorted(map(str, expected))} were expected"
            )
        for key in expected:
            message = compare_values(got[key], expected[key], f"{name}[{key!r}]", atol, rtol)
            if message:
                return message
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)):
            return f"your {name} is {_describe(got)}, but a {type(expected).__name__} of {len(expected)} was expected"
        if len(got) != len(expected):
            return f"your {name} has {len(got)} items but {len(expected)} were expected"
        for i, (g, e) in enumerate(zip(got, expected)):
            message = compare_values(g, e, f"{name}[{i}]", atol, rtol)
            if message:
                return message
        return None
    return None if got == expected else f"your {name} is {got!r} but {expected!r} was expected"


def diagnose(got: Any, variants: Mapping[str, Any], atol: float = 1e-5, rtol: float = 1e-4) -> str:
    """The advice whose known-wrong result ``got`` matches (``""`` when none does).

    ``variants`` maps advice ("did you forget to divide by sqrt(d)?") to what that mistake
    produces (a value, or a zero-argument callable computing it lazily). Errors while
    computing a variant are ignored: a diagnosis is a bonus, never a crash.
    """
    for advice, value in variants.items():
        try:
            if callable(value) and not _is_tensor(value):
                value = value()
            if compare_values(got, value, atol=atol, rtol=rtol) is None:
                return advice
        except Exception:
            continue
    return ""
