"""Run by tests/proof/test_browser.py in a process of its own (as root, or as nobody): start deploycheck's
Chromium, let a page try the network, render a card, and report what the browser's processes are, as JSON
on stdout."""
import http.server
import json
import os
import sys
import threading

sys.path.insert(0, sys.argv[1])

from deploycheck.proof import browser  # noqa: E402

hits = []


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"<h1>reached</h1>")


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{srv.server_address[1]}/from-chromium"


def descendants(root):
    kids = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as fh:
                    kids.setdefault(int(fh.read().rsplit(")", 1)[1].split()[1]), []).append(int(p))
            except OSError:
                pass
    out, todo = [], [root]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def work(b):
    page = b.new_page()
    try:
        try:
            page.goto(url, timeout=10_000)
            reached = "reached" in page.content()
        except Exception:  # noqa: BLE001 - no network: the navigation fails
            reached = False
        page.close()
        page = b.new_page()                      # (the failed navigation's error page may still be loading)
        page.set_content("<h1>card</h1>")
        png = page.screenshot()
        me = os.readlink("/proc/self/ns/net")
        procs = []
        for pid in descendants(os.getpid()):
            try:
                comm = open(f"/proc/{pid}/comm").read().strip()
                uid = int([ln.split()[1] for ln in open(f"/proc/{pid}/status") if ln.startswith("Uid:")][0])
                net = os.readlink(f"/proc/{pid}/ns/net")
                cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "chrom" in comm:
                procs.append({"comm": comm, "uid": uid, "own_net": net != me, "no_sandbox": "--no-sandbox" in cmd})
        return {"reached": reached, "png": len(png), "procs": procs}
    finally:
        page.close()


res = browser.run(work)
res.update(mode=browser.mode(), hits=hits, euid=os.geteuid())
print(json.dumps(res))
