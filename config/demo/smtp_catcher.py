#!/usr/bin/python3
"""A local SMTP server that keeps every message it accepts as a file
(DIR/NNNNNN.eml, written whole then renamed), for the demo of
./build.sh run and for the tests. Built on Debian's python3-aiosmtpd.

    smtp_catcher.py --listen 127.0.0.1:2525 --dir run/mail
        [--tls-cert CRT --tls-key KEY]   STARTTLS offered and required
        [--auth USER:PASSWORD]           AUTH required (after STARTTLS)
        [--slow ADDR:SECONDS]            wait before accepting DATA for ADDR
        [--reject ADDR]                  550 for that recipient
"""

import argparse
import asyncio
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Keeper:
    def __init__(self, directory, slow, reject):
        self.dir = directory
        self.slow = slow
        self.reject = reject
        self.lock = threading.Lock()
        os.makedirs(directory, exist_ok=True)

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            wait = self.slow.get(rcpt.lower())
            if wait:
                await asyncio.sleep(wait)
        with self.lock:
            n = len([f for f in os.listdir(self.dir) if f.endswith(".eml")])
            name = "%06d.eml" % (n + 1)
            tmp = os.path.join(self.dir, "." + name)
            with open(tmp, "wb") as f:
                f.write(("X-Envelope-From: %s\r\nX-Envelope-To: %s\r\n"
                         % (envelope.mail_from,
                            ",".join(envelope.rcpt_tos))).encode())
                f.write(envelope.original_content)
            os.rename(tmp, os.path.join(self.dir, name))
        return "250 Message accepted for delivery"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--auth")
    ap.add_argument("--slow", action="append", default=[])
    ap.add_argument("--reject", action="append", default=[])
    a = ap.parse_args()

    host, port = a.listen.rsplit(":", 1)
    slow = {}
    for s in a.slow:
        addr, secs = s.rsplit(":", 1)
        slow[addr.lower()] = float(secs)

    kw = {}
    if a.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        kw.update(tls_context=ctx, require_starttls=True)
    if a.auth:
        user, password = a.auth.split(":", 1)

        def check(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login.decode() == user
                  and auth_data.password.decode() == password)
            return AuthResult(success=ok)

        kw.update(authenticator=check, auth_required=True,
                  auth_require_tls=bool(a.tls_cert))

    ctl = Controller(Keeper(a.dir, slow, {r.lower() for r in a.reject}),
                     hostname=host, port=int(port), **kw)
    ctl.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("smtp catcher on %s, mails in %s" % (a.listen, a.dir), flush=True)
    stop.wait()
    ctl.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
