"""A closed Forwarder stops listening at once: the next stack of the same session takes the
same Service addresses (a forwarder whose accept() thread kept its socket open made the
second stack's guard refuse to start in CI)."""

from __future__ import annotations

import time

from mlops_iac.testing.local_servers import free_port

from cluster import listeners_on_tier_addresses
from proxy import Forwarder


def test_closing_a_forwarder_frees_its_address() -> None:
    address = f"127.78.250.2:{free_port()}"
    host, port = address.split(":")
    forwarder = Forwarder((host, int(port)), ("127.0.0.1", 1))
    time.sleep(0.1)  # its accept() thread is waiting
    assert address in listeners_on_tier_addresses()

    forwarder.close()

    deadline = time.monotonic() + 2
    while address in listeners_on_tier_addresses() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert address not in listeners_on_tier_addresses()
