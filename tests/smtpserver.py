"""A real SMTP server for tests: aiosmtpd on a free local port, recording what it accepts.

The handler can refuse a recipient for good (550) or for now (421 at RCPT, 451 at DATA) a set number of times.
"""

from __future__ import annotations

import email
import email.policy
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    authenticated: bool

    def parsed(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.content, policy=email.policy.default)


@dataclass
class RecordingHandler:
    """Keeps every accepted message; refuses the recipients it is told to, for good or a number of times."""

    received: list[Received] = field(default_factory=list)
    reject: dict[str, str] = field(default_factory=dict)
    transient_rcpt: dict[str, int] = field(default_factory=dict)
    transient_data: dict[str, int] = field(default_factory=dict)
    rcpt_calls: Counter = field(default_factory=Counter)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        self.rcpt_calls[address] += 1
        if address in self.reject:
            return self.reject[address]
        if self.transient_rcpt.get(address, 0) > 0:
            self.transient_rcpt[address] -= 1
            return "421 4.7.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        (address,) = envelope.rcpt_tos
        if self.transient_data.get(address, 0) > 0:
            self.transient_data[address] -= 1
            return "451 4.3.0 local problem, try again"
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, session.authenticated)
        )
        return "250 2.0.0 queued"


def free_port() -> int:
    # aiosmtpd's Controller(port=0) does not work: ask the OS for a free port, then hand it over.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    handler: RecordingHandler
    port: int


@pytest.fixture
def start_smtp() -> Iterator[Callable[..., Server]]:
    """start_smtp(**controller_kwargs) -> Server; every server started is stopped after the test."""
    controllers: list[Controller] = []

    def start(**kwargs: Any) -> Server:
        handler = RecordingHandler()
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        controllers.append(controller)
        return Server(handler, port)

    yield start
    for controller in controllers:
        controller.stop()
