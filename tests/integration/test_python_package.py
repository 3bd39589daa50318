"""`pip install client/python` from a clean copy of the tree: no generated
files in it (they are made at build time from proto/), offline (Debian's
python3-setuptools and python3-grpc-tools through --no-build-isolation, no
index), into a venv over Debian's python3-grpcio. The installed package is
imported from outside the tree and the README's --dev examples (its README's and the main README's) run as
written (only the port changed) against a tokenvaultd --dev."""
import os
import re
import shutil
import subprocess
import sys

import tvtest as t

SOURCE = os.environ["TV_SOURCE_DIR"]

tree = t.path("clone")
shutil.copytree(os.path.join(SOURCE, "proto"), os.path.join(tree, "proto"))
shutil.copytree(os.path.join(SOURCE, "client", "python"), os.path.join(tree, "client", "python"),
                ignore=shutil.ignore_patterns("_generated", "build", "*.egg-info", "__pycache__"))
pkg = os.path.join(tree, "client", "python")
t.check(not os.path.exists(os.path.join(pkg, "tokenvault", "_generated")), "the copy holds no generated module")

venv = t.path("venv")
subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv], check=True, timeout=120)
py = os.path.join(venv, "bin", "python")
env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
env.pop("PYTHONPATH", None)
p = subprocess.run([py, "-m", "pip", "install", "--no-build-isolation", "--no-index", pkg],
                   capture_output=True, text=True, timeout=300, env=env)
t.check(p.returncode == 0, "pip install --no-build-isolation --no-index client/python: %s" % (p.stderr[-800:],))

with open(os.path.join(SOURCE, "client", "python", "README.md")) as f:
    readme = f.read()
m = re.search(r"```python\n(.*?)```", readme, re.S)
t.check(m is not None and "insecure=True" in m.group(1), "the README's first example is the --dev one")
example = m.group(1)

server = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", t.path("var-dev"))
script = os.path.join(t.WORK, "readme_example.py")
with open(script, "w") as f:
    f.write(example.replace("127.0.0.1:7443", "127.0.0.1:%d" % server.port))
p = subprocess.run([py, script], capture_output=True, text=True, timeout=60, cwd=t.WORK, env=env)
t.check(p.returncode == 0 and "411111******1111" in p.stdout,
        "the README example runs with the installed package: %r %s" % (p.stdout, p.stderr[-500:]))
with open(os.path.join(SOURCE, "README.md")) as f:
    main_readme = f.read()
m = re.search(r"\*\*Python\*\*.*?```python\n(.*?)```", main_readme, re.S)
t.check(m is not None, "the main README's Python section has an example")
with open(script, "w") as f:
    f.write(m.group(1).replace("127.0.0.1:7443", "127.0.0.1:%d" % server.port))
p = subprocess.run([py, script], capture_output=True, text=True, timeout=60, cwd=t.WORK, env=env)
t.check(p.returncode == 0 and "411111******1111" in p.stdout,
        "the main README's Python example runs too: %r %s" % (p.stdout, p.stderr[-500:]))
p = subprocess.run([py, "-c", "import tokenvault, sys; print(tokenvault.__file__)"], capture_output=True,
                   text=True, timeout=60, cwd=t.WORK, env=env)
t.check(p.returncode == 0 and p.stdout.startswith(venv), "tokenvault is imported from the venv (%s)" % p.stdout.strip())
server.terminate(20)
print("python package: all checks passed")
