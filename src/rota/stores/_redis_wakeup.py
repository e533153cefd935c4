"""Wake-ups for the Redis store: this process's notifies and other processes' PUBLISHes.

Every write that gives someone new work PUBLISHes on ``{prefix}:wakeup``
from inside its script (SPUBLISH, sharded pub/sub, on a Redis Cluster). A
waiter subscribes lazily, on its first wait, on a connection of its own, and
reads it without a background thread: whichever waiting thread holds the
subscription reads it in short slices, and the others wait on a condition it
signals. Each thread remembers the last generation it saw, so a notify
before a wait is not lost and one notify wakes every waiter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

SLICE = 0.1
"""Longest single block on the socket or the condition, in seconds."""


class Subscription(Protocol):
    """The part of redis-py's ``PubSub`` used here."""

    def subscribe(self, *channels: str) -> Any: ...

    def get_message(self, ignore_subscribe_messages: bool = ..., timeout: float = ...) -> Any: ...

    def close(self) -> None: ...


class Sharded:
    """A Redis Cluster subscription (redis-py's ``ClusterPubSub``) as a
    ``Subscription``: SSUBSCRIBE on the node that owns the channel's slot, and
    its sharded messages read as plain ones (``smessage`` as ``message``)."""

    _PLAIN: ClassVar[dict[str, str]] = {
        "smessage": "message",
        "ssubscribe": "subscribe",
        "sunsubscribe": "unsubscribe",
    }

    def __init__(self, pubsub: Any) -> None:
        self._pubsub = pubsub

    def subscribe(self, *channels: str) -> Any:
        return self._pubsub.ssubscribe(*channels)

    def get_message(self, ignore_subscribe_messages: bool = False, timeout: float = 0.0) -> Any:
        message = self._pubsub.get_sharded_message(
            ignore_subscribe_messages=ignore_subscribe_messages, timeout=timeout
        )
        if message is None:
            return None
        kind = message.get("type")
        return {**message, "type": self._PLAIN.get(kind, kind)}

    def close(self) -> None:
        self._pubsub.close()


class Wakeups:
    """Generation counting over one lazily made subscription."""

    def __init__(self, subscribe: Callable[[], Subscription], channel: str) -> None:
        self._subscribe = subscribe
        self._channel = channel
        self._cond = threading.Condition()
        self._generation = 0
        self._seen = threading.local()
        self._reader = threading.Lock()
        self._sub: Subscription | None = None

    def bump(self) -> None:
        """Record activity and wake every waiter in this process."""
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def wait(self, timeout: float) -> bool:
        """True once a generation this thread has not seen arrives, within ``timeout``."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            if self._take_news():
                return True
            remaining = deadline - time.monotonic()
            if self._reader.acquire(blocking=False):
                try:
                    self._read(max(0.0, min(SLICE, remaining)))
                finally:
                    self._reader.release()
            elif remaining > 0:
                with self._cond:
                    self._cond.wait(min(SLICE, remaining))
            if remaining <= 0:
                return self._take_news()

    def close(self) -> None:
        """Drop the subscription (waits for a reading thread's current slice)."""
        with self._reader:
            sub, self._sub = self._sub, None
        if sub is not None:
            sub.close()

    def _take_news(self) -> bool:
        with self._cond:
            seen: int = getattr(self._seen, "generation", 0)
            self._seen.generation = self._generation
            return seen != self._generation

    def _read(self, timeout: float) -> None:
        """Read the channel for up to ``timeout``; a message bumps the generation.

        A failing connection is dropped (the next wait subscribes afresh)
        and its error raised.
        """
        try:
            if self._sub is None:
                self._sub = self._subscribed()
            message = self._sub.get_message(timeout=timeout)
        except BaseException:
            sub, self._sub = self._sub, None
            if sub is not None:
                sub.close()
            raise
        if message is not None and message.get("type") == "message":
            self.bump()

    def _subscribed(self) -> Subscription:
        """A subscription the server has confirmed: later PUBLISHes reach it."""
        sub = self._subscribe()
        sub.subscribe(self._channel)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            message = sub.get_message(timeout=1.0)
            if message is not None and message.get("type") == "subscribe":
                return sub
        sub.close()
        raise TimeoutError(f"no confirmation of SUBSCRIBE {self._channel}")
