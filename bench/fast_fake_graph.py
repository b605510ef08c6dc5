"""A fast local fake of the Graph API's /messages endpoint for benchmarks, run as its own process.

asyncio (uvloop when installed), HTTP/1.1 keep-alive, a fixed answer with a fresh message id.
It records the monotonic receive time of every request so that the benchmark can check the
sender's rate limit from the receiving side, per sliding second.

    python bench/fast_fake_graph.py --port 0 --ready-file PATH --times-file PATH

writes "<port>\\n" to the ready file once listening; on SIGTERM (or SIGINT) writes the receive
times (nanoseconds, one per line) to the times file and exits.
"""
from __future__ import annotations

import argparse
import asyncio
import signal
import time
from pathlib import Path

HEADER_END = b"\r\n\r\n"


class Server:
    def __init__(self) -> None:
        self.received: list[int] = []
        self.count = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        clock = time.monotonic_ns
        received = self.received
        try:
            while True:
                head = await reader.readuntil(HEADER_END)
                received.append(clock())
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                        break
                if length:
                    await reader.readexactly(length)
                self.count += 1
                body = b'{"messaging_product":"whatsapp","messages":[{"id":"wamid.bench.%d"}]}' % self.count
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(body), body))
        except (asyncio.IncompleteReadError, ConnectionResetError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


async def main(port: int, ready: Path, times: Path) -> None:
    server = Server()
    listener = await asyncio.start_server(server.handle, "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    ready.write_text(f"{listener.sockets[0].getsockname()[1]}\n")
    await stop.wait()
    listener.close()
    times.write_text("\n".join(map(str, server.received)) + "\n" if server.received else "")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--times-file", type=Path, required=True)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(args.port, args.ready_file, args.times_file))
    else:
        uvloop.run(main(args.port, args.ready_file, args.times_file))
