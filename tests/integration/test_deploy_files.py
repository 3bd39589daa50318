"""deploy/: the systemd unit, the container file and the Kubernetes
manifests carry the hardening the vault relies on, and every tokenvaultd
option they pass is one tokenvaultd accepts (a renamed flag must break this
test, not a production start). No Docker engine or cluster runs here, so
this checks the files, not a deployment."""
import os
import re
import shlex

import yaml

import tvtest as t
from daemon_flags import OPTIONS, check_flags

DEPLOY = os.environ["TV_DEPLOY_DIR"]


def read(rel):
    with open(os.path.join(DEPLOY, rel)) as f:
        return f.read()


t.check({"--listen", "--tls-cert", "--dev"} <= OPTIONS, "tokenvaultd --help lists its options")


# systemd
unit = read("systemd/tokenvaultd.service")
settings = dict(re.findall(r"^(\w+)=(.*)$", unit, re.M))
for key, want in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes"),
                  ("LimitCORE", "0"), ("User", "tokenvault"), ("CapabilityBoundingSet", ""),
                  ("MemoryDenyWriteExecute", "yes")):
    t.check(settings.get(key) == want, "systemd unit: %s=%s" % (key, want))
t.check("LimitMEMLOCK" in settings, "systemd unit allows locking key memory")
t.check("io_uring_enter" in settings.get("SystemCallFilter", ""), "systemd unit lets io_uring through")
exec_line = re.search(r"^ExecStart=((?:.*\\\n)*.*)$", unit, re.M).group(1).replace("\\\n", " ")
check_flags(shlex.split(exec_line)[1:], "systemd ExecStart")

# container
container = read("container/Containerfile")
t.check(len(re.findall(r"^FROM ", container, re.M)) == 2, "Containerfile is multi-stage")
t.check(re.search(r"^FROM debian:12-slim", container, re.M) is not None, "runtime stage is Debian 12 slim")
user = re.findall(r"^USER (\S+)", container, re.M)
t.check(user and not user[-1].startswith(("0", "root")), "Containerfile runs as non-root (USER %s)" % user)
cmd = re.search(r"^CMD (\[.*?\])", container, re.M | re.S).group(1)
check_flags(yaml.safe_load(cmd.replace("\\\n", "")), "Containerfile CMD")

# Kubernetes
docs = {d["kind"]: d for d in yaml.safe_load_all(read("kubernetes/tokenvault.yaml"))}
t.check({"StatefulSet", "Service", "NetworkPolicy"} <= set(docs), "manifests: StatefulSet, Service, NetworkPolicy")
sts = docs["StatefulSet"]["spec"]
pod = sts["template"]["spec"]
container_spec = pod["containers"][0]
t.check(pod["securityContext"]["runAsNonRoot"] is True, "pod runs as non-root")
t.check(container_spec["securityContext"]["readOnlyRootFilesystem"] is True, "read-only root filesystem")
t.check(container_spec["securityContext"]["allowPrivilegeEscalation"] is False, "no privilege escalation")
t.check(sts["volumeClaimTemplates"][0]["metadata"]["name"] == "data", "a persistent volume for the store")
secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
t.check({"tokenvault-tls", "tokenvault-hsm-pin"} <= secrets, "TLS files and the HSM PIN come from Secrets")
t.check(not any("env" in c for c in pod["containers"]), "no secret passed through environment variables")
t.check("readinessProbe" in container_spec and "livenessProbe" in container_spec, "health probes set")
check_flags(container_spec["args"], "StatefulSet args")

# The quickstart's knobs (its environment variables and options) are in the
# README, not only in the script's header.
quickstart = read("quickstart.sh")
with open(os.path.join(DEPLOY, "..", "README.md")) as f:
    readme = f.read()
knobs = set(re.findall(r"\bTV_QUICKSTART_[A-Z_]+", quickstart)) | set(re.findall(r"^\s+(--[a-z-]+)\)", quickstart, re.M))
t.check({"TV_QUICKSTART_BUILD_DIR", "TV_QUICKSTART_PORT", "--stop", "--port"} <= knobs,
        "the quickstart's knobs are found in the script (%s)" % sorted(knobs))
missing = sorted(k for k in knobs if "`%s" % k not in readme)
t.check(not missing, "the README documents every quickstart knob (missing: %s)" % missing)
