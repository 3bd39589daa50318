"""libtokenvault against a live tokenvaultd: tests/unit/client/client_check
(which links the shared library) over plaintext --dev and over mutual TLS
with certificates made here; then the library's packaging: SONAME, only
tv_client_* exported, the pkg-config file."""
import os
import re
import subprocess

import tvtest as t

CHECK = os.environ.get("TV_CLIENT_CHECK", "")
LIB = os.environ.get("TV_CLIENT_LIB", "")
PC = os.environ.get("TV_CLIENT_PC", "")


def run_check(*args):
    p = subprocess.run([CHECK, *args], capture_output=True, timeout=60, text=True)
    lines = p.stdout.strip().splitlines()
    t.check(p.returncode == 0 and lines and lines[-1].endswith("passed, 0 failed"),
            "client_check %s: %s %s" % (args[1], lines[-1] if lines else "", p.stderr.strip()[-300:]))
    return p.stdout


server = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", t.path("var-dev"))
out = run_check("127.0.0.1:%d" % server.port, "dev")
t.check("ok: 4 batches were in flight at once (4)" in out, "the stream kept its window full")
t.check("ok: stream round trip of 2500 values in order" in out, "stream round trip")
server.terminate(20)

# mTLS with the production flags: an HSM token made by `tokenvault hsm
# init`, roles from a config file (client_check runs as "app").
import cli_data  # noqa: E402

server = cli_data.start_mtls_vault(t, os.environ.get("TOKENVAULT_CLI", ""))
run_check("127.0.0.1:%d" % server.port, "tls", t.path("ca.crt"), t.path("app.crt"), t.path("app.key"), "localhost")

# Missing certificate files fail tv_client_new, before any connection.
p = subprocess.run([CHECK, "127.0.0.1:%d" % server.port, "tls", t.path("ca.crt"), t.path("nope.crt"),
                    t.path("nope.key"), "localhost"], capture_output=True, timeout=30, text=True)
t.check(p.returncode == 1 and "cannot open TLS file" in p.stderr and "tv_client_new" in p.stderr,
        "missing certificate files fail tv_client_new (%s)" % p.stderr.strip())
server.terminate(20)

dyn = subprocess.run(["readelf", "-d", LIB], capture_output=True, text=True, check=True).stdout
t.check("Library soname: [libtokenvault.so.0]" in dyn, "SONAME libtokenvault.so.0")
syms = subprocess.run(["nm", "-D", "--defined-only", LIB], capture_output=True, text=True, check=True).stdout
names = [line.split()[-1] for line in syms.splitlines() if line.strip()]
t.check(all(n == "TOKENVAULT_0.1" or n.endswith("@@TOKENVAULT_0.1") for n in names),
        "every exported symbol carries the version TOKENVAULT_0.1")
exported = [n.split("@")[0] for n in names if n != "TOKENVAULT_0.1"]
t.check(exported and all(n.startswith("tv_client_") for n in exported),
        "only tv_client_* exported (%d symbols)" % len(exported))
t.check("tv_client_detokenize_stream_open" in exported and "tv_client_result_free" in exported,
        "the stream and result functions are exported")
with open(PC) as f:
    pc = f.read()
t.check(re.search(r"^Version: \d+\.\d+\.\d+$", pc, re.M) and "-ltokenvault" in pc,
        "tokenvault.pc has a version and -ltokenvault")

# A program outside the build links each library the way a user would:
# the header alone, -ltokenvault (shared, found by SONAME at run time) or
# the static archive plus gRPC and protobuf-c from pkg-config.
prog = t.path("hello.c")
with open(prog, "w") as f:
    f.write('#include "tokenvault.h"\n#include <stdio.h>\n#include <string.h>\n'
            'int main(void) {\n  tv_client *c = NULL;\n  tv_client_error e = {0};\n'
            '  tv_client_options o = {.target = "127.0.0.1:1", .ca_file = "/nonexistent"};\n'
            '  int rc = tv_client_new(&c, &o, &e);\n'
            '  printf("%s %s\\n", tv_client_version(), tv_client_code_name(rc));\n'
            '  return rc == TV_CLIENT_E_TLS_FILES ? 0 : 1;\n}\n')
inc = "-I" + os.environ.get("TV_CLIENT_INCLUDE", "")
libdir = os.path.dirname(LIB)
deps = subprocess.run(["pkg-config", "--libs", "grpc", "libprotobuf-c"], capture_output=True, text=True,
                      check=True).stdout.split()
for kind, link in (("shared", ["-L" + libdir, "-ltokenvault", "-Wl,-rpath," + libdir]),
                   ("static", [os.environ.get("TV_CLIENT_STATIC", ""), *deps])):
    exe = t.path("hello-" + kind)
    # A sanitizer build's library needs the sanitizer runtime in the program.
    san = ["-fsanitize=address,undefined"] if os.environ.get("TV_CLIENT_SANITIZE") == "1" else []
    p = subprocess.run(["cc", "-std=c17", "-Wall", "-Werror", *san, inc, prog, "-o", exe, *link],
                       capture_output=True, text=True, timeout=120)
    t.check(p.returncode == 0, "a program links the %s library (%s)" % (kind, p.stderr.strip()[-300:]))
    p = subprocess.run([exe], capture_output=True, text=True, timeout=30)
    t.check(p.returncode == 0 and p.stdout.startswith("0.1.0 E_TLS_FILES"), "and runs: %r" % p.stdout)
print("C client: all checks passed")
