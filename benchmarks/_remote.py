"""Helpers of the remote-worker benchmarks: a counting TCP forwarder.

    with CountingProxy(moto_port) as proxy:      # 127.0.0.1:<free port> -> 127.0.0.1:moto
        env["AWS_ENDPOINT_URL"] = proxy.url       # one client's S3 traffic goes through it
        ...
        proxy.received                            # bytes the server sent that client

Bytes are counted on the wire (HTTP responses with their headers), per proxy, so a
process and the processes it starts (DataLoader workers inherit its environment) are
metered exactly, whatever library reads (s3fs, boto3). One thread per connection: a
benchmark's few dozen connections.
"""

from __future__ import annotations

import selectors
import socket
import threading
from contextlib import suppress
from typing import Any

CHUNK = 1 << 16


class CountingProxy:
    """Forwards every connection to 127.0.0.1:target_port; counts the bytes each way
    (received: server to client, sent: client to server). A context manager: closed on
    leaving (open connections end with the process; their threads are daemons)."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.received = 0
        self.sent = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True, name=f"proxy-{self.port}").start()

    def __enter__(self) -> CountingProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._pump, args=(client,), daemon=True).start()

    def _pump(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target)
        except OSError:
            client.close()
            return
        peers = {client: upstream, upstream: client}
        with selectors.DefaultSelector() as selector, client, upstream:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    sock = key.fileobj
                    try:
                        data = sock.recv(CHUNK)  # type: ignore[union-attr]
                        if data:
                            peers[sock].sendall(data)  # type: ignore[index]
                    except OSError:
                        return
                    if not data:
                        return
                    with self._lock:
                        if sock is upstream:
                            self.received += len(data)
                        else:
                            self.sent += len(data)
