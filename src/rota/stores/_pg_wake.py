"""Wake-ups for ``rota.stores.postgres``: an in-process bell and a LISTEN
connection, waited on together with ``select``; no thread of their own.

Imported only by the PostgreSQL store.
"""

from __future__ import annotations

import secrets
import selectors
import socket
import threading
import time
from contextlib import suppress

import psycopg
from psycopg import sql

from rota.errors import StoreUnavailable
from rota.stores._pg_conn import Settings, translated


class Wakeups:
    """What ``notify`` and ``wait_for_activity`` need, for one store.

    ``activity`` is the store's event (set by ``notify`` in this process);
    ``me`` signs the store's notifications so that its own listener skips
    them: the bell has already woken this process. One thread at a time
    listens on the connection; another thread waiting meanwhile sees only
    this process's wake-ups.
    """

    def __init__(self, settings: Settings, activity: threading.Event) -> None:
        self.me = secrets.token_hex(8)
        self._settings = settings
        self._activity = activity
        self._bell = Bell()
        self._lock = threading.Lock()
        self._listener: Listener | None = None
        self._closed = False

    def here(self) -> None:
        """Wake this process's waiters at once."""
        self._activity.set()
        self._bell.ring()

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` for a wake-up here or a notification from elsewhere."""
        deadline = time.monotonic() + max(0.0, timeout)
        self._check_open()
        if not self._lock.acquire(timeout=max(0.0, timeout)):
            return self._take_local()
        try:
            return self._listen_until(deadline)
        finally:
            self._lock.release()

    def close(self) -> None:
        """Close the listener, first waking a waiter so that it lets go of it."""
        self._closed = True
        self._bell.ring()
        with self._lock:
            listener, self._listener = self._listener, None
            if listener is not None:
                listener.close()
        self._bell.close()

    def _listen_until(self, deadline: float) -> bool:
        self._check_open()  # closed while this thread waited for the lock
        listener = self._listening()
        while not self._take_local():
            self._check_open()  # close() rang
            try:
                with translated(self._settings, None):
                    woke = listener.wait(max(0.0, deadline - time.monotonic()))
            except StoreUnavailable:
                self._listener = None  # the next wait connects afresh
                listener.close()
                raise
            if woke == "pg":
                return True
            if woke is None:
                return self._take_local()
            self._bell.silence()  # rung: loop to see whether by a notify or stale
        return True

    def _listening(self) -> Listener:
        """The listener (the caller holds ``_lock``), connected on first use."""
        if self._listener is None:
            self._listener = Listener(self._settings, self._bell.reader, self.me)
        return self._listener

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailable(f"PostgreSQL store at {self._settings.server} is closed")

    def _take_local(self) -> bool:
        if self._activity.is_set():
            self._activity.clear()
            return True
        return False


class Listener:
    """``LISTEN rota_<schema>`` on a dedicated connection, waited on with a selector.

    No thread: ``wait`` blocks in ``select`` on the connection's socket and on
    ``wake`` (the store's in-process bell), so either wakes it at once.
    Notifications whose payload is ``own`` (sent by this very store, whose
    waiters the bell already woke) are ignored.
    """

    def __init__(self, settings: Settings, wake: socket.socket, own: str) -> None:
        self._own = own
        with translated(settings, None):
            self._conn = psycopg.connect(
                settings.conninfo,
                connect_timeout=settings.connect_timeout,
                **settings.connect_kwargs(),
            )
        self._selector = selectors.DefaultSelector()
        try:
            with translated(settings, None):
                self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(settings.channel)))
            self._selector.register(self._conn.fileno(), selectors.EVENT_READ, "pg")
            self._selector.register(wake, selectors.EVENT_READ, "bell")
        except BaseException:
            self.close()
            raise

    def wait(self, timeout: float) -> str | None:
        """Block until a notification from another store ("pg"), the bell ("bell"),
        or ``timeout``; None on timeout. Raises ``psycopg.OperationalError``."""
        deadline = time.monotonic() + timeout
        while True:
            if self._heard():
                return "pg"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready = {key.data for key, _ in self._selector.select(remaining)}
            if "bell" in ready:
                return "bell"

    def _heard(self) -> bool:
        """Consume what has arrived, without blocking: any from someone else?"""
        return any(n.payload != self._own for n in self._conn.notifies(timeout=0))

    def close(self) -> None:
        self._selector.close()
        self._conn.close()


class Bell:
    """An in-process wake-up that a ``select`` can wait on: a socket pair."""

    def __init__(self) -> None:
        self.reader, self._writer = socket.socketpair()
        self.reader.setblocking(False)
        self._writer.setblocking(False)
        self._lock = threading.Lock()

    def ring(self) -> None:
        with self._lock, suppress(OSError):  # full (already ringing) or closed
            self._writer.send(b"\0")

    def silence(self) -> None:
        with suppress(OSError):
            while self.reader.recv(4096):
                pass

    def close(self) -> None:
        with self._lock:
            self._writer.close()
        self.reader.close()
