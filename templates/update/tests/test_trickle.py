"""Unit tests: the updater's deadlines hold against a server that trickles.

http.client waits in one read for a whole status line, header line or
buffer, and the socket timeout restarts with every byte, so a server that
sends one byte every little while is stopped only by the deadlines
(`_SMALL_DEADLINE`, `_DOWNLOAD_DEADLINE`), cut here to a second.
"""

import json
import os
import socketserver
import sys
import tempfile
import threading
import time
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import pyship_update  # noqa: E402
from pyship_update import UpdateError, Updater  # noqa: E402
from test_pyship_update import Server, bundle  # noqa: E402

# The trickler gives up after this long, so an updater without deadlines
# fails these tests instead of hanging them.
GIVE_UP = 8
# An answer must be refused well before GIVE_UP (the deadlines are 1 s).
QUICK = 4


class Trickler:
    """Answers every request with `head` at once, then `trickle` one byte
    every 50 ms (for at most GIVE_UP seconds)."""

    def __init__(self, head, trickle):
        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                got = b""
                while b"\r\n\r\n" not in got:
                    data = self.request.recv(4096)
                    if not data:
                        return
                    got += data
                self.request.sendall(head)
                end = time.monotonic() + GIVE_UP
                for byte in trickle:
                    if time.monotonic() > end:
                        return
                    self.request.sendall(bytes([byte]))
                    time.sleep(0.05)

        class Quiet(socketserver.ThreadingTCPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                # The updater hangs up at its deadline.
                pass

        self.server = Quiet(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


BODY = (b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", b"[" * 100000)
STATUS = (b"", b"HTTP/1.1 200 OK" * 1000)
HEADERS = (b"HTTP/1.1 200 OK\r\nX-Slow: ", b"x" * 100000)


class TrickleTests(unittest.TestCase):
    def setUp(self):
        self.server = Server()
        self.tmp = tempfile.TemporaryDirectory()
        self.tricklers = []
        for name, value in (("_SMALL_DEADLINE", 1), ("_DOWNLOAD_DEADLINE", 1), ("_MIN_RATE", 1 << 40)):
            patch = mock.patch.object(pyship_update, name, value)
            patch.start()
            self.addCleanup(patch.stop)

    def tearDown(self):
        for t in self.tricklers:
            t.close()
        self.server.close()
        self.tmp.cleanup()

    def trickler(self, answer):
        t = Trickler(*answer)
        self.tricklers.append(t)
        return t

    def updater(self, server_url):
        _, cfg = bundle(os.path.join(self.tmp.name, str(len(os.listdir(self.tmp.name)))), server_url)
        return Updater(cfg, environ={})

    def late(self, fn, *contains):
        """`fn()` is refused with an UpdateError within QUICK seconds."""
        start = time.monotonic()
        with self.assertRaises(UpdateError) as e:
            fn()
        took = time.monotonic() - start
        for c in contains:
            self.assertIn(c, e.exception.message)
        self.assertTrue(e.exception.hint)
        self.assertLess(took, QUICK, e.exception.message)
        return e.exception

    def moved(self, name, url):
        """The release listing with asset `name` served from `url`."""
        api = self.server.api()
        for a in api[0]["assets"]:
            if a["name"] == name:
                a["browser_download_url"] = url + "/" + name
        self.server.api_body = json.dumps(api).encode()

    def test_a_trickled_release_list_stops_at_the_deadline(self):
        t = self.trickler(BODY)
        self.late(self.updater(t.url).check, t.url + "/api/v1/repos/alice/app/releases", "took too long")

    def test_a_trickled_status_line_stops_at_the_deadline(self):
        t = self.trickler(STATUS)
        self.late(self.updater(t.url).check, t.url + "/api/v1/repos/alice/app/releases", "took too long")

    def test_trickled_headers_stop_at_the_deadline(self):
        t = self.trickler(HEADERS)
        self.late(self.updater(t.url).check, t.url + "/api/v1/repos/alice/app/releases", "took too long")

    def test_a_trickled_manifest_stops_at_the_deadline(self):
        self.server.publish("v0.2.0")
        for answer in (BODY, STATUS):
            with self.subTest(answer=answer[0]):
                t = self.trickler(answer)
                self.moved("manifest.json", t.url)
                self.late(self.updater(self.server.url).check, "manifest.json", "took too long")

    def test_a_trickled_download_stops_at_the_deadline(self):
        asset = self.server.publish("v0.2.0")
        for answer in (BODY, HEADERS):
            with self.subTest(answer=answer[0]):
                t = self.trickler(answer)
                self.moved(asset, t.url)
                up = self.updater(self.server.url)
                update = up.check()
                self.assertEqual(update.download_url, t.url + "/" + asset)
                self.late(lambda: up.download(update), asset, "too")
                self.assertFalse(os.path.exists(up.staging()), "a refused download leaves nothing")

    def test_a_listing_cut_short_is_refused_not_read_as_whole(self):
        # `[]` is valid JSON: only the Content-Length tells it was cut.
        t = self.trickler((b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", b"[]"))
        self.late(self.updater(t.url).check, "was cut off after 2 of 100 bytes")


if __name__ == "__main__":
    unittest.main()
