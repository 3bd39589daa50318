"""client/python/examples/crm.py against tokenvaultd --dev: the CRM's table
holds only tokens, a bad card is refused with its item status, the support
screen shows masked values, a job with a reason sees the full value, and
erasure removes the value's token from the vault."""
import os
import subprocess
import sys

import tvtest as t

EXAMPLE = os.path.join(os.environ["TV_SOURCE_DIR"], "client", "python", "examples", "crm.py")
server = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", t.path("var-crm"), "--metrics-listen", "")
env = dict(os.environ, TOKENVAULT_TARGET="127.0.0.1:%d" % server.port, TOKENVAULT_INSECURE="1",
           PYTHONPATH=os.environ["TV_PYTHON_CLIENT"])
p = subprocess.run([sys.executable, EXAMPLE], capture_output=True, timeout=60, env=env)
out = p.stdout.decode()
t.check(p.returncode == 0, "the example runs (%s)" % p.stderr.decode()[-500:])
lines = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
row = lines.get("stored row", "")
t.check("4111 1111 1111 1111" not in row and "3704 0044 0532 0130 00" not in row and "pan_token='4111 11" in row,
        "the CRM row holds tokens only, shaped like the values (%s)" % row)
t.check(lines.get("sign-up refused") == "FORMAT_LUHN", "a bad card is refused with FORMAT_LUHN")
t.check("'card': '4111 11** **** 1111'" in lines.get("support screen", ""), "support sees a masked card")
t.check(lines.get("chargeback job sees") == "4111 1111 1111 1111", "the job with a reason sees the full value")
t.check(lines.get("erased tokens") == "1", "erasure removed the value's token")
rc, _ = server.terminate(20)
t.check(rc == 0, "server stopped")
