"""Uploads one file to reel as a fast client would: the body goes out with sendfile(2)
on a keep-alive connection, so the figures are the server's, not the client's.

    upload.py put URL FILE          one PUT of the whole file
    upload.py tus URL FILE [CHUNK]  tus 1.0: POST URL/tus with Upload-Length, then PATCH
                                    CHUNK-byte pieces (16 MiB, as the web page sends)

URL is the video's upload URL (with its token). Prints the seconds taken, from the first
byte sent to the last answer.
"""

import os
import socket
import sys
import time
from urllib.parse import urljoin, urlsplit


class Connection:
    def __init__(self, url):
        parts = urlsplit(url)
        self.host = parts.netloc
        self.sock = socket.create_connection((parts.hostname, parts.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def request(self, method, url, headers, file=None, offset=0, count=0):
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Content-Length: {count}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        if count:
            self.sock.sendfile(file, offset, count)
        return self.answer()

    def answer(self):
        while b"\r\n\r\n" not in self.buffer:
            self.read()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self.read()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, headers, body

    def read(self):
        data = self.sock.recv(65536)
        if not data:
            raise SystemExit("the server closed the connection")
        self.buffer += data


def expect(answer, status):
    if answer[0] != status:
        raise SystemExit(f"answered {answer[0]}, not {status}: {answer[2][:300]!r}")
    return answer


def put(url, file, size):
    conn = Connection(url)
    expect(conn.request("PUT", url, {}, file, 0, size), 201)


def tus(url, file, size, chunk):
    conn = Connection(url)
    base, _, query = url.partition("?")
    create = f"{base}/tus" + (f"?{query}" if query else "")
    version = {"Tus-Resumable": "1.0.0"}
    answer = expect(conn.request("POST", create, {**version, "Upload-Length": size}), 201)
    location = urljoin(create, answer[1]["location"])
    offset = 0
    while offset < size:
        count = min(chunk, size - offset)
        headers = {
            **version,
            "Upload-Offset": offset,
            "Content-Type": "application/offset+octet-stream",
        }
        answer = expect(conn.request("PATCH", location, headers, file, offset, count), 204)
        offset = int(answer[1]["upload-offset"])


def main():
    kind, url, path = sys.argv[1:4]
    chunk = int(sys.argv[4]) if len(sys.argv) > 4 else 16 * 1024 * 1024
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        began = time.monotonic()
        if kind == "put":
            put(url, file, size)
        else:
            tus(url, file, size, chunk)
        print(f"{time.monotonic() - began:.3f}")


if __name__ == "__main__":
    main()
