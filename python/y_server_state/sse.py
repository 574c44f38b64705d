"""Server-Sent Events, read line by line as the HTML standard's parser does: ``event``, ``data``,
``id`` and ``retry`` fields, comment lines ignored, an event dispatched at each blank line.

Example::

    parser = EventStreamParser()
    for line in ["event: change", 'data: {"key": "a"}', "id: 7", ""]:
        for event in parser.feed(line):
            print(event.event, event.data, event.id)   # change {"key": "a"} 7
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional


@dataclass(frozen=True)
class StreamEvent:
    """One dispatched event: its type (``message`` by default), data lines joined by newlines, last id."""

    event: str
    data: str
    id: Optional[str]


class EventStreamParser:
    """Feeds lines (without their line ending) and returns the events each completes."""

    def __init__(self) -> None:
        self.last_id: Optional[str] = None
        #: The reconnection delay the stream asked for (``retry:``), in seconds, or None.
        self.retry: Optional[float] = None
        self._event = ""
        self._data: List[str] = []

    def feed(self, line: str) -> List[StreamEvent]:
        if line == "":
            if not self._data:
                self._event = ""
                return []
            event = StreamEvent(self._event or "message", "\n".join(self._data), self.last_id)
            self._event, self._data = "", []
            return [event]
        if line.startswith(":"):
            return []
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self.last_id = value
        elif name == "retry" and value.isdigit():
            self.retry = int(value) / 1000
        return []
