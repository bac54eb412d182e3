"""What kube-proxy does for a Service whose port is not its target's container port, or whose
pods come and go: accept on the Service's address and port, and pass bytes both ways to a
pod's."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

Target = tuple[str, int]


class Forwarder:
    """TCP from (listen_ip, listen_port) to (target_ip, target_port) until `close`; `target`
    may be a function, asked at each connection (None: no endpoint, the connection is
    closed, as kube-proxy rejects one to a Service without ready endpoints)."""

    def __init__(
        self, listen: tuple[str, int], target: Target | Callable[[], Target | None]
    ) -> None:
        self.target = target
        self._server = socket.create_server(listen, reuse_port=False)
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name=f"proxy-{listen}", daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        # shutdown first: it wakes the thread blocked in accept(), which otherwise keeps the
        # socket listening after close() (the next stack could not use the address).
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._server.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        target = self.target() if callable(self.target) else self.target
        if target is None:
            client.close()
            return
        try:
            upstream = socket.create_connection(target, timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
