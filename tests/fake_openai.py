"""A small local HTTP server speaking the OpenAI chat-completions protocol, for tests.

Real LLM servers (OpenAI, Ollama, vLLM, llama.cpp) cannot run here, so this one
answers ``POST /v1/chat/completions`` the way they do: the same request body
(model, messages) and the same response shape (``choices[0].message.content``).
What it replies is set per test through ``reply`` (a function of the request
body) or ``status`` (an HTTP error). Every request it received is kept in
``requests`` so a test can check what the client sent (model, key, passages).
It runs on a free loopback port in a thread of its own.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = Callable[[dict[str, Any]], str]


def cite_first_passage(body: dict[str, Any]) -> str:
    """Answer with the first line of passage [1] and cite it, as a grounded model would."""
    system = body["messages"][0]["content"]
    first = system.split("[1] ", 1)[1].split("\n")[1]
    return f"{first} [1]"


@dataclass
class FakeOpenAI:
    reply: Reply = cite_first_passage
    status: int = 200
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            return

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            if self.path != "/v1/chat/completions":
                self._send(404, {"error": {"message": "not found", "type": "invalid_request"}})
                return
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            fake.requests.append(body)
            fake.headers.append({key.lower(): value for key, value in self.headers.items()})
            if fake.delay:
                time.sleep(fake.delay)
            if fake.status != 200:
                self._send(fake.status, {"error": {"message": "boom", "type": "server_error"}})
                return
            content = fake.reply(body)
            self._send(
                200,
                {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", ""),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                },
            )

    return Handler


@contextmanager
def fake_openai_server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
