"""A local stand-in for HubSpot's CRM batch API and the workflow API, on 127.0.0.1.

For tests and benchmarks only: it keeps records in memory, enforces a rolling rate limit the
way HubSpot does (429, policy TEN_SECONDLY_ROLLING), and injects faults on request: 429s,
5xx, timeouts, dropped connections, 207 partial failures. It counts what it applied, so a test
can tell whether an update landed twice.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

UPDATE_FAULTS = ("ok", "429", "500", "timeout_after_apply", "drop_before_apply", "drop_after_apply", "207")


class FakeCrm:
    def __init__(
        self,
        token: str = "test-token",  # noqa: S107 - the fake's own test token
        max_requests: int = 190,
        window_seconds: float = 10.0,
        timeout_seconds: float = 1.0,
        latency_seconds: float = 0.0,
    ):
        self.token, self.max_requests, self.window_seconds = token, max_requests, window_seconds
        self.timeout_seconds, self.latency_seconds = timeout_seconds, latency_seconds
        self.records: dict[str, dict[str, str]] = {}
        self.applied: Counter[str] = Counter()  # payload fingerprint → times applied
        self.faults: deque[str] = deque()  # consumed one per update request
        self.update_bodies: list[dict] = []
        self.request_times: deque[float] = deque()
        self.all_request_times: list[float] = []
        self.limit_violations = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeCrm:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def fingerprint(record_id: str, properties: dict) -> str:
        return hashlib.md5(f"{record_id} {json.dumps(properties, sort_keys=True)}".encode()).hexdigest()  # noqa: S324

    def max_requests_in_any_window(self) -> int:
        times, best, start = sorted(self.all_request_times), 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= self.window_seconds:
                start += 1
            best = max(best, end - start + 1)
        return best

    def _apply(self, inputs: list[dict], reject: set[str]) -> tuple[list[dict], list[dict]]:
        results, errors = [], []
        for item in inputs:
            record_id = str(item["id"])
            if record_id in reject:
                errors.append(
                    {
                        "status": "error",
                        "category": "VALIDATION_ERROR",
                        "message": f"Property values were not valid for {record_id}",
                        "context": {"ids": [record_id]},
                    }
                )
                continue
            self.records.setdefault(record_id, {}).update(item["properties"])
            self.applied[self.fingerprint(record_id, item["properties"])] += 1
            results.append({"id": record_id, "properties": self.records[record_id]})
        return results, errors

    def _handler(self):
        crm = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                return

            def _send(self, status: int, body: object, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _drop(self) -> None:
                self.close_connection = True
                self.connection.shutdown(2)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                if self.headers.get("Authorization") != f"Bearer {crm.token}":
                    self._send(401, {"status": "error", "message": "Authentication credentials not found"})
                    return
                now = time.monotonic()
                with crm.lock:
                    crm.all_request_times.append(now)
                    while crm.request_times and crm.request_times[0] <= now - crm.window_seconds:
                        crm.request_times.popleft()
                    crm.request_times.append(now)
                    if len(crm.request_times) > crm.max_requests:
                        crm.limit_violations += 1
                        self._send(
                            429,
                            {
                                "status": "error",
                                "policyName": "TEN_SECONDLY_ROLLING",
                                "message": "You have reached your ten_secondly_rolling limit.",
                            },
                        )
                        return
                if crm.latency_seconds:
                    time.sleep(crm.latency_seconds)
                url = urlparse(self.path)
                if url.path.endswith("/batch/read") or url.path.endswith(
                    "lookup:latest_draft/triggers/post_trigger/run_wait_result"
                ):
                    self._read(url, body)
                elif url.path.endswith("/batch/update") or url.path.endswith(
                    "update:latest_draft/triggers/post_trigger/run_wait_result"
                ):
                    self._update(body)
                else:
                    self._send(404, {"status": "error", "message": f"no route {url.path}"})

            def _read(self, url, body) -> None:
                if body:  # HubSpot batch/read
                    ids, properties = [str(i["id"]) for i in body["inputs"]], body.get("properties") or []
                else:  # lookup workflow: ?ids=1,2&properties=a,b
                    query = parse_qs(url.query)
                    ids = query.get("ids", [""])[0].split(",")
                    properties = query.get("properties", [""])[0].split(",")
                with crm.lock:
                    results = [
                        {"id": i, "properties": {p: crm.records.get(i, {}).get(p) for p in properties}}
                        for i in ids
                        if i in crm.records
                    ]
                self._send(200, {"status": "COMPLETE", "results": results})

            def _update(self, body) -> None:
                with crm.lock:
                    fault = crm.faults.popleft() if crm.faults else "ok"
                    crm.update_bodies.append(body)
                inputs = body["inputs"]
                if fault == "429":
                    self._send(
                        429,
                        {"status": "error", "policyName": "SECONDLY", "message": "slow down"},
                        {"Retry-After": "0.2"},
                    )
                elif fault == "500":
                    self._send(502, {"status": "error", "message": "Bad gateway"})
                elif fault == "drop_before_apply":
                    self._drop()
                else:
                    reject = {str(inputs[0]["id"])} if fault == "207" else set()
                    with crm.lock:
                        results, errors = crm._apply(inputs, reject)
                    if fault == "timeout_after_apply":
                        time.sleep(crm.timeout_seconds * 3)
                    if fault == "drop_after_apply":
                        self._drop()
                        return
                    if errors:
                        self._send(
                            207, {"status": "COMPLETE", "results": results, "errors": errors, "numErrors": len(errors)}
                        )
                    else:
                        self._send(200, {"status": "COMPLETE", "results": results})

        return Handler
