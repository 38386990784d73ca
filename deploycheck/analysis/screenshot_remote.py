"""Fetching a remote image a README embeds (issue 21): by the grader, with urllib3, never by Chromium.

Students paste screenshots into their README through GitHub's editor (``github.com/user-attachments/
assets/...``, ``user-images.githubusercontent.com/...``) or host them elsewhere (``i.imgur.com/...png``).
Such an image used to pass unread. It is now fetched and read like a committed one, within limits:

* only ``http``/``https``, at most :data:`MAX_REDIRECTS` redirects, each one checked again;
* the host is resolved once, with a time limit, and every address it resolves to must be a public
  one (:func:`ipaddress.ip_address(...).is_global`): a README cannot make the grader fetch from its own
  machine, its local network or a cloud metadata service (``169.254.169.254``); the connection goes to the
  address that was checked (the certificate and ``Host`` still name the host), so a second DNS answer
  cannot change it;
* :data:`CONNECT_SECONDS` to connect, :data:`READ_SECONDS` between bytes, :data:`TOTAL_SECONDS` in all;
* at most :data:`~deploycheck.analysis.ocr.MAX_BYTES` bytes; a body that says it is not an image is
  not read.

An image that cannot be fetched (no network, HTTP 404 for a private repository's attachment, a time
limit) is ``review`` with the reason; one that was fetched goes through the same header check, sandboxed
OCR and cache as a committed file. ``DEPLOYCHECK_REMOTE_IMAGES`` (read through
:mod:`deploycheck.settings`): ``public`` (default), ``off`` (nothing is fetched: every remote image is left
for review), ``any`` (private addresses too: for tests with a local server, never for a class).
"""
from __future__ import annotations

import concurrent.futures
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from deploycheck.analysis.ocr import MAX_BYTES

CONNECT_SECONDS = 5.0
READ_SECONDS = 10.0
TOTAL_SECONDS = 20.0
MAX_REDIRECTS = 3
ENV = "DEPLOYCHECK_REMOTE_IMAGES"                 # named in messages; read through deploycheck.settings.env
_IMAGE_TYPES = ("image/", "application/octet-stream", "binary/octet-stream")


@dataclass(frozen=True)
class Fetched:
    url: str                      # as the README wrote it
    data: bytes | None = None     # the image's bytes, when fetched
    problem: str = ""             # why not ("HTTP 404", "no network: ...", "not fetched: ...")
    final_url: str = ""           # after redirects
    content_type: str = ""


def mode() -> str:
    from deploycheck import settings
    v = (settings.env("REMOTE_IMAGES") or "public").strip().lower()
    return v if v in ("public", "off", "any") else "public"


_MEMO: dict[str, Fetched] = {}
_LOCK = threading.Lock()


def fetch(url: str) -> Fetched:
    """The image at ``url`` (once per process and URL), or why it could not be fetched. Never raises."""
    with _LOCK:
        hit = _MEMO.get(url)
    if hit is not None:
        return hit
    m = mode()
    if m == "off":
        got = Fetched(url, problem=f"deploycheck fetches no remote images here ({ENV}=off)")
    else:
        try:
            got = _fetch(url, allow_private=m == "any")
        except Exception as e:  # noqa: BLE001 - any failure of the network or of the server
            got = Fetched(url, problem=f"it could not be fetched ({type(e).__name__}: {str(e)[:150]})")
    with _LOCK:
        _MEMO[url] = got
    return got


def clear() -> None:
    with _LOCK:
        _MEMO.clear()


def _resolve(host: str, port: int, deadline: float) -> list[str]:
    """The host's addresses (getaddrinfo has no time limit of its own: it runs in a thread)."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="deploycheck-dns")
    try:
        fut = pool.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
        infos = fut.result(timeout=max(0.1, min(CONNECT_SECONDS, deadline - time.monotonic())))
    finally:
        pool.shutdown(wait=False)
    return list(dict.fromkeys(str(i[4][0]) for i in infos))


def _fetch(url: str, allow_private: bool) -> Fetched:
    import urllib3
    from deploycheck import __version__
    deadline = time.monotonic() + TOTAL_SECONDS
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        parts = urlsplit(current)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return Fetched(url, problem=f"it is not an http(s) address ({current[:80]})")
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addrs = _resolve(host, port, deadline)
        except concurrent.futures.TimeoutError:
            return Fetched(url, problem=f"the name {host} did not resolve within {CONNECT_SECONDS:g} s")
        except OSError as e:
            return Fetched(url, problem=f"the name {host} does not resolve here (no network? {e.strerror or e})")
        bad = [a for a in addrs if not ipaddress.ip_address(a.split("%")[0]).is_global]
        if bad and not allow_private:
            return Fetched(url, problem=f"{host} is a private or local address ({bad[0]}): not fetched")
        addr = addrs[0]
        timeout = urllib3.Timeout(connect=CONNECT_SECONDS, read=READ_SECONDS)
        kw: dict = {"timeout": timeout, "retries": False, "maxsize": 1}
        pool: urllib3.HTTPConnectionPool
        if parts.scheme == "https":
            import certifi
            pool = urllib3.HTTPSConnectionPool(addr, port, server_hostname=host, assert_hostname=host,
                                               cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(), **kw)
        else:
            pool = urllib3.HTTPConnectionPool(addr, port, **kw)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = host if parts.port is None else f"{host}:{parts.port}"
        try:
            r = pool.urlopen("GET", path, headers={"Host": host_header, "Accept": "image/*",
                                                   "User-Agent": f"deploycheck/{__version__} (proof.screenshot)"},
                             redirect=False, preload_content=False, assert_same_host=False)
        except urllib3.exceptions.HTTPError as e:
            return Fetched(url, problem=f"it could not be fetched ({type(e).__name__}: {str(e)[:120]})")
        try:
            if r.status in (301, 302, 303, 307, 308) and r.headers.get("Location"):
                current = urljoin(current, r.headers["Location"])
                continue
            if r.status != 200:
                return Fetched(url, problem=f"fetching it answered HTTP {r.status}", final_url=current)
            ctype = (r.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype and not ctype.startswith(_IMAGE_TYPES):
                return Fetched(url, problem=f"it is not an image (the server sent {ctype[:60]})", final_url=current,
                               content_type=ctype)
            size = r.headers.get("Content-Length")
            if size and size.isdigit() and int(size) > MAX_BYTES:
                return Fetched(url, problem=f"it is larger than {MAX_BYTES // 1_000_000} MB", final_url=current)
            buf = bytearray()
            while True:
                chunk = r.read1(1 << 16)          # what has arrived: the deadline is checked between reads
                if not chunk:
                    break
                buf += chunk
                if len(buf) > MAX_BYTES:
                    return Fetched(url, problem=f"it is larger than {MAX_BYTES // 1_000_000} MB", final_url=current)
                if time.monotonic() > deadline:
                    return Fetched(url, problem=f"fetching it took more than {TOTAL_SECONDS:g} s", final_url=current)
            return Fetched(url, bytes(buf), final_url=current, content_type=ctype)
        finally:
            r.release_conn()
            pool.close()
    return Fetched(url, problem=f"it redirects more than {MAX_REDIRECTS} times")
