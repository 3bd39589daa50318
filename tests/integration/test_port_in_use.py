"""One port, one vault: a second tokenvaultd asked for a port that a first
one already serves must refuse to start (gRPC would otherwise set
SO_REUSEPORT and let both share the port, each silently taking part of the
connections — with different data directories, a client would see tokens
appear and vanish). The first server keeps serving."""
import subprocess

import tvtest as t

first = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", t.path("var-first"), "--metrics-listen", "")
second = subprocess.run([t.SERVER, "--dev", "--listen", "127.0.0.1:%d" % first.port, "--data-dir",
                         t.path("var-second"), "--metrics-listen", ""], capture_output=True, timeout=30)
err = second.stderr.decode()
t.check(second.returncode != 0, "a second server on the same port exits non-zero (rc %d)" % second.returncode)
t.check("cannot listen on 127.0.0.1:%d" % first.port in err, "the refusal names the address (%s)" % err.strip()[-200:])
t.check(first.alive(), "the first server is still running")
with t.insecure_channel(first.port) as ch:
    who = t.unary(ch, "/tokenvault.v1.TokenVault/WhoAmI")(b"", timeout=10)
    t.check(isinstance(who, bytes), "the first server still answers WhoAmI")
rc, _ = first.terminate(20)
t.check(rc == 0, "the first server stops cleanly")
