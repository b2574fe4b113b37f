"""Powertools' REST resolver with its per-request state in a context variable, and the methods each
path answers (for a 405's ``Allow`` header: Powertools answers any miss as not found).

Powertools keeps the current event and Lambda context on a class attribute
(``BaseRouter.current_event``) and the matched route in an instance dict (``app.context``). Lambda
runs one event per process at a time, where that is safe; two threads that resolve at once (the
local server's, or a test's) read each other's event, body and request id. Here each resolve gets
its own state in a :class:`contextvars.ContextVar`, which every thread holds separately, so reads
still run in parallel.

Powertools has no public hook for this: the overrides below (``_to_proxy_event`` and the three
attributes) and the one-time build of the routes' middleware stacks are the isolated dependency on
its internals, and ``tests/hardening/test_concurrency.py`` breaks when an upgrade moves them. The
declared routes are recorded through ``route``, the public method every route decorator calls.
"""

from __future__ import annotations

import re
import threading
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.typing import LambdaContext


@dataclass
class _RequestState:
    event: Any = None
    lambda_context: Any = None
    context: dict[str, Any] = field(default_factory=dict)


_state: ContextVar[_RequestState | None] = ContextVar("plate_ocr_request", default=None)


class IsolatedRestResolver(APIGatewayRestResolver):
    """An :class:`APIGatewayRestResolver` that many threads may resolve with at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._declared: dict[str, set[str]] = {}
        self._outside_context: dict[str, Any] = {}
        self._build_lock = threading.Lock()
        self._stacks_built = False
        super().__init__(*args, **kwargs)

    def route(self, rule: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        # Every route decorator (get, post, ...) comes through here: remember what it declares.
        methods = (method,) if isinstance(method, str) else method
        self._declared.setdefault(rule, set()).update(m.upper() for m in methods)
        return super().route(rule, method, *args, **kwargs)

    def declared_routes(self) -> set[tuple[str, str]]:
        """(method, rule) of every route declared, e.g. ``("GET", "/results/<result_id>")``."""
        return {(method, rule) for rule, methods in self._declared.items() for method in methods}

    def allowed_methods(self, path: str) -> set[str]:
        """The methods of the routes whose rule matches ``path`` (none: no such path)."""
        return {
            method
            for rule, methods in self._declared.items()
            if _rule_pattern(rule).fullmatch(path)
            for method in methods
        }

    def resolve(self, event: Any, context: LambdaContext) -> dict[str, Any]:
        self._build_middleware_stacks()
        token = _state.set(_RequestState(lambda_context=context))
        try:
            return super().resolve(event, context)
        finally:
            _state.reset(token)

    def _to_proxy_event(self, event: dict[str, Any]) -> Any:
        proxy = super()._to_proxy_event(event)
        state = _state.get()
        if state is not None:
            state.event = proxy
        return proxy

    @property
    def current_event(self) -> Any:
        state = _state.get()
        if state is None or state.event is None:
            raise AttributeError("no request is being resolved in this context")
        return state.event

    @current_event.setter
    def current_event(self, value: Any) -> None:
        state = _state.get()
        if state is not None:
            state.event = value

    @property
    def lambda_context(self) -> Any:
        state = _state.get()
        return state.lambda_context if state is not None else None

    @lambda_context.setter
    def lambda_context(self, value: Any) -> None:
        state = _state.get()
        if state is not None:
            state.lambda_context = value

    @property
    def context(self) -> dict[str, Any]:
        state = _state.get()
        return state.context if state is not None else self._outside_context

    @context.setter
    def context(self, value: dict[str, Any]) -> None:
        state = _state.get()
        if state is not None:
            state.context = value
        else:
            self._outside_context = value

    def _build_middleware_stacks(self) -> None:
        # Each route builds its middleware stack on its first call, unguarded: two threads there
        # at once could nest one stack inside the other. Build them all once, under a lock.
        if self._stacks_built:
            return
        with self._build_lock:
            if self._stacks_built:
                return
            for route in self._static_routes + self._dynamic_routes:
                if not route._middleware_stack_built:
                    route._build_middleware_stack(
                        router_middlewares=self._router_middlewares, app=self
                    )
            self._stacks_built = True


def _rule_pattern(rule: str) -> re.Pattern[str]:
    """A route rule (``/results/<result_id>``) as a pattern: a ``<name>`` is one path segment."""
    return re.compile(re.sub(r"<\w+>", "[^/]+", re.escape(rule)))
