"""The event bus interface and its in-process backend.

Events carry a topic (``conversation:42``, ``inbox``) so subscribers choose what
they hear. A Redis backend for several processes implements the same interface.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    topics: tuple[str, ...]
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[Event], None]


class EventBus(Protocol):
    async def publish(self, event: Event) -> None: ...

    def add_listener(self, topics: set[str], listener: Listener) -> None:
        """Call ``listener`` (quick, synchronous) for every event on these topics."""

    def subscribe(self, topics: set[str]) -> AsyncIterator[Event]: ...

    async def close(self) -> None: ...


class MemoryEventBus:
    """Fan-out inside one process; the default for the single-process install."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._subscribers: list[tuple[set[str], asyncio.Queue[Event | None]]] = []
        self._listeners: list[tuple[set[str], Listener]] = []

    def add_listener(self, topics: set[str], listener: Listener) -> None:
        self._listeners.append((set(topics), listener))

    async def publish(self, event: Event) -> None:
        for topics, listener in self._listeners:
            if topics.intersection(event.topics):
                listener(event)
        for topics, queue in list(self._subscribers):
            if topics.intersection(event.topics):
                if queue.qsize() >= self._queue_size:
                    queue.get_nowait()  # a stalled subscriber loses its oldest event, never blocks
                queue.put_nowait(event)

    async def subscribe(self, topics: set[str]) -> AsyncIterator[Event]:
        # None in the queue is close()'s end marker.
        queue: asyncio.Queue[Event | None] = asyncio.Queue(self._queue_size + 1)
        entry = (set(topics), queue)
        self._subscribers.append(entry)
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            if entry in self._subscribers:
                self._subscribers.remove(entry)

    async def close(self) -> None:
        for _topics, queue in self._subscribers:
            queue.put_nowait(None)
        self._subscribers.clear()
        self._listeners.clear()
