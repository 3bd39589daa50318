"""`cmake --install` and `cpack -G DEB` (cmake/install.cmake, cmake/cpack.cmake):
the install into a temporary prefix holds the server, the CLI, the library
(shared and static), its header, a relocatable tokenvault.pc, the systemd
unit, the example configs and the man pages; the README's C example compiles
with pkg-config against that prefix and tokenizes on the installed
tokenvaultd --dev — again after the prefix directory is moved; the man pages
lint clean and name every option; the Debian package holds the same files,
declares its runtime libraries, and its tokenvaultd runs --help."""
import os
import re
import shutil
import subprocess

import tvtest as t

BUILD = os.environ["TV_BUILD_DIR"]
SOURCE = os.environ["TV_SOURCE_DIR"]
CC = os.environ.get("CC", "cc")
# A sanitized libtokenvault needs its program linked with the same runtime.
SANITIZE_FLAGS = ["-fsanitize=address,undefined"] if os.environ.get("TV_SANITIZE") == "1" else []

FILES = ["sbin/tokenvaultd", "bin/tokenvault", "include/tokenvault.h", "lib/libtokenvault.a",
         "lib/libtokenvault.so", "lib/libtokenvault.so.0", "lib/pkgconfig/tokenvault.pc",
         "lib/systemd/system/tokenvaultd.service",
         "share/doc/tokenvault/examples/tokenvault.prod.yaml",
         "share/doc/tokenvault/examples/tokenvault.dev.yaml",
         "share/man/man8/tokenvaultd.8", "share/man/man1/tokenvault.1", "share/man/man5/tokenvault.yaml.5"]


def run(args, env=None, cwd=None, timeout=300):
    p = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def readme_c_example():
    with open(os.path.join(SOURCE, "README.md")) as f:
        text = f.read()
    install = text[text.index("\n## Install\n"):]
    m = re.search(r"```c\n(.*?)```", install, re.S)
    t.check(m is not None, "the README's Install section has a C example")
    return m.group(1)


def compile_and_run(prefix, port, label):
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
    rc, flags, err = run(["pkg-config", "--cflags", "--libs", "tokenvault"], env=env)
    t.check(rc == 0 and prefix in flags, "%s: pkg-config finds the prefix (%s%s)" % (label, flags.strip(), err))
    exe = t.path("hello_vault-" + label)
    rc, _, err = run([CC, "-o", exe, t.path("hello_vault.c"), *flags.split(), *SANITIZE_FLAGS], env=env)
    t.check(rc == 0, "%s: the README's C example compiles with pkg-config %s" % (label, err[-500:]))
    env["LD_LIBRARY_PATH"] = os.path.join(prefix, "lib")
    rc, out, err = run([exe, "127.0.0.1:%d" % port], env=env, timeout=60)
    token = out.strip()
    t.check(rc == 0 and re.fullmatch(r"411111\d{6}1111", token) and token != "4111111111111111",
            "%s: it tokenizes on the --dev vault (%r %s)" % (label, token, err.strip()))
    rc, ldd, _ = run(["ldd", exe], env=env)
    t.check(os.path.join(prefix, "lib", "libtokenvault.so.0") in ldd,
            "%s: linked against the installed libtokenvault.so.0" % label)


def check_tree(root, label):
    missing = [f for f in FILES if not os.path.exists(os.path.join(root, f))]
    t.check(not missing, "%s: every file installed (missing: %s)" % (label, missing))


# -- cmake --install into a temporary prefix ---------------------------------
prefix = t.path("prefix")
rc, _, err = run(["cmake", "--install", BUILD, "--prefix", prefix])
t.check(rc == 0, "cmake --install --prefix TMP %s" % err[-500:])
check_tree(prefix, "install")
with open(os.path.join(prefix, "lib/pkgconfig/tokenvault.pc")) as f:
    pc = f.read()
t.check("prefix=${pcfiledir}/" in pc and prefix not in pc and "/usr/local" not in pc,
        "tokenvault.pc is relocatable (prefix from ${pcfiledir}, no absolute path)")
with open(os.path.join(prefix, "lib/systemd/system/tokenvaultd.service")) as f:
    unit = f.read()
t.check("ExecStart=%s/sbin/tokenvaultd" % prefix in unit, "the unit starts the installed tokenvaultd")
rc, out, _ = run([os.path.join(prefix, "sbin/tokenvaultd"), "--help"])
t.check(rc == 0 and out.startswith("usage: tokenvaultd"), "installed tokenvaultd --help runs")
rc, out, _ = run([os.path.join(prefix, "bin/tokenvault"), "--help"])
t.check(rc == 0 and out.startswith("usage: tokenvault"), "installed tokenvault --help runs")

with open(t.path("hello_vault.c"), "w") as f:
    f.write(readme_c_example())
t.SERVER = os.path.join(prefix, "sbin/tokenvaultd")
server = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", t.path("var-dev"))
compile_and_run(prefix, server.port, "installed")
moved = t.path("moved-prefix")
shutil.move(prefix, moved)
compile_and_run(moved, server.port, "moved")
server.terminate(20)

# -- man pages ---------------------------------------------------------------
man_dir = os.path.join(moved, "share/man")
pages = {"tokenvaultd": "man8/tokenvaultd.8", "tokenvault": "man1/tokenvault.1",
         "tokenvault.yaml": "man5/tokenvault.yaml.5"}
texts = {}
for name, rel in pages.items():
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    rc, out, err = run(["man", "--warnings", "-E", "UTF-8", "-l", os.path.join(man_dir, rel)], env=env)
    t.check(rc == 0 and err.strip() == "" and name.upper() in out,
            "man --warnings -l %s: renders without warnings %s" % (rel, err.strip()[:300]))
    texts[name] = re.sub(r".\x08", "", out).replace("\u2010", "-").replace("\u2212", "-")
rc, usage, _ = run([t.SERVER.replace(prefix, moved), "--help"])
server_opts = set(re.findall(r"--[a-z][a-z-]+", usage))
t.check(len(server_opts) >= 12, "tokenvaultd --help lists its options (%d)" % len(server_opts))
missing = sorted(o for o in server_opts if o not in texts["tokenvaultd"])
t.check(not missing, "tokenvaultd(8) documents every option of --help (missing: %s)" % missing)
cli = os.path.join(moved, "bin/tokenvault")
rc, usage, _ = run([cli, "--help"])
commands = re.findall(r"^  ([a-z]+) ", usage, re.M)
opts = set()
for cmd in commands:
    opts |= set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", run([cli, cmd, "--help"])[1]))
missing = sorted(x for x in set(commands) | opts if x not in texts["tokenvault"])
t.check(len(commands) >= 10 and not missing,
        "tokenvault(1) names every command and option of --help (missing: %s)" % missing)
for key in ("listen", "tls.client_ca", "data_dir", "hsm.pin_file", "hsm.pin_env", "metrics.listen",
            "audit.checkpoint_interval", "rotation.compact_bytes_per_s", "namespaces[]", "roles[]",
            "principals[]", "reveals_per_minute", "require_reason", "detokenize:full", "keys:approve"):
    t.check(key in texts["tokenvault.yaml"], "tokenvault.yaml(5) documents %s" % key)

# -- Debian package ----------------------------------------------------------
out_dir = t.path("deb")
rc, out, err = run(["cpack", "-G", "DEB", "-B", out_dir, "--config", os.path.join(BUILD, "CPackConfig.cmake")],
                   cwd=BUILD, timeout=600)
debs = [f for f in os.listdir(out_dir) if f.endswith(".deb")] if os.path.isdir(out_dir) else []
t.check(rc == 0 and len(debs) == 1, "cpack -G DEB builds one package (%s %s)" % (debs, err[-500:]))
deb = os.path.join(out_dir, debs[0])
rc, listing, _ = run(["dpkg-deb", "-c", deb])
# "perm owner size date time ./path[ -> target]"
paths = {line.split(" -> ")[0].split()[-1].lstrip(".") for line in listing.splitlines() if line}
missing = [f for f in FILES if "/usr/" + f not in paths]
t.check(rc == 0 and not missing, "dpkg-deb -c: the package holds every file under /usr (missing: %s)" % missing)
rc, depends, _ = run(["dpkg-deb", "-f", deb, "Depends"])
for lib in ("libgrpc", "libprotobuf-c", "libssl3"):
    t.check(lib in depends, "Depends lists %s (%s)" % (lib, depends.strip()))
root = t.path("unpacked")
rc, _, err = run(["dpkg-deb", "-x", deb, root])
t.check(rc == 0, "dpkg-deb -x %s" % err)
with open(os.path.join(root, "usr/lib/systemd/system/tokenvaultd.service")) as f:
    t.check("ExecStart=/usr/sbin/tokenvaultd" in f.read(), "the packaged unit starts /usr/sbin/tokenvaultd")
env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(root, "usr/lib"))
rc, out, err = run([os.path.join(root, "usr/sbin/tokenvaultd"), "--help"], env=env)
t.check(rc == 0 and out.startswith("usage: tokenvaultd"), "the packaged tokenvaultd --help runs %s" % err)
rc, out, err = run([os.path.join(root, "usr/bin/tokenvault"), "--help"], env=env)
t.check(rc == 0 and "tokenize" in out, "the packaged tokenvault --help runs %s" % err)
t.SERVER = os.path.join(root, "usr/sbin/tokenvaultd")
packaged = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", t.path("var-deb"))
rc, out, err = run([os.path.join(root, "usr/bin/tokenvault"), "health", "--dev", "--target",
                    "127.0.0.1:%d" % packaged.port], env=env, timeout=60)
t.check(rc == 0 and out == "SERVING\n", "the packaged tokenvaultd --dev serves; the packaged CLI sees it %s" % err)
packaged.terminate(20)
# The unit as systemd reads it (no systemd runs here): syntax, directives,
# and that ExecStart names an executable — pointed at the unpacked one.
if shutil.which("systemd-analyze"):
    with open(os.path.join(root, "usr/lib/systemd/system/tokenvaultd.service")) as f:
        unit = f.read().replace("/usr/sbin/tokenvaultd", os.path.join(root, "usr/sbin/tokenvaultd"))
    os.makedirs(t.path("unit"))
    with open(t.path("unit/tokenvaultd.service"), "w") as f:
        f.write(unit)
    rc, out, err = run(["systemd-analyze", "verify", t.path("unit/tokenvaultd.service")], timeout=60)
    t.check(rc == 0 and "tokenvaultd.service" not in out + err,
            "systemd-analyze verify accepts the packaged unit %s" % (out + err).strip())
else:
    print("skip: systemd-analyze not installed")
print("install: all checks passed")
