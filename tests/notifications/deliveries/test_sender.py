"""One webhook attempt has one deadline: a receiver that answers one byte at a time cannot hold it longer."""

from __future__ import annotations

import asyncio
import ipaddress
import time

import httpx

from aid_notifications.deliveries.sender import send
from aid_notifications.subscriptions.ssrf import Destinations


async def test_a_receiver_trickling_bytes_is_cut_at_the_attempt_deadline() -> None:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        try:
            for byte in b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n":
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.2)  # well inside any per-read timeout
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(trickle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    allow = Destinations(allow=(ipaddress.ip_network("127.0.0.0/8"),))
    async with server, httpx.AsyncClient(timeout=httpx.Timeout(1.0)) as client:
        started = time.perf_counter()
        outcome = await send(
            client,
            url=f"http://127.0.0.1:{port}/hook",
            webhook_id="msg_1",
            body="{}",
            secrets=["whsec_" + "A" * 32],
            allow=allow,
            deadline_seconds=1.5,
        )
        took = time.perf_counter() - started
    assert outcome.status_code is None and "deadline" in (outcome.error or "")
    assert took < 3, f"the attempt took {took:.1f} s; the trickle alone would take {0.2 * 40:.0f} s"
