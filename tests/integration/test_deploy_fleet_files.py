"""deploy/ for a real fleet: the Kubernetes variant (stateless vault
Deployment on a shared PostgreSQL) and the Patroni members. No cluster
runs here, so this checks the files: the Kubernetes documents against the
API schema of Debian's python3-kubernetes (k8s_schema.py) and against
what the vault needs (readiness on /healthz, no store volume, the audit
log on a per-pod directory, secrets as files, anti-affinity, a disruption
budget, every configured path under a mount of the right kind), the
ConfigMap's configuration through tokenvaultd's own parser, and each
Patroni member through `patroni --validate-config` (Debian's patroni)."""
import copy
import os
import re
import socket
import subprocess

import yaml

import k8s_schema
import tvtest as t
from daemon_flags import check_flags

DEPLOY = os.environ["TV_DEPLOY_DIR"]
README = os.path.join(DEPLOY, "..", "README.md")


def read(rel):
    with open(os.path.join(DEPLOY, rel)) as f:
        return f.read()


def conninfo_hosts(conninfo):
    t.check("target_session_attrs=read-write" in conninfo and not re.search(r"password\s*=", conninfo),
            "conninfo names target_session_attrs=read-write and no password: %s" % conninfo)
    return re.search(r"host=(\S+)", conninfo).group(1).split(",")


# ---- Kubernetes ---------------------------------------------------------
docs = list(yaml.safe_load_all(read("kubernetes/tokenvault-fleet.yaml")))
for doc in docs + list(yaml.safe_load_all(read("kubernetes/tokenvault.yaml"))):
    found = k8s_schema.errors(doc)
    t.check(not found, "%s %s: valid against the Kubernetes API schema %s"
            % (doc["kind"], doc["metadata"]["name"], found[:3]))
broken = copy.deepcopy(next(d for d in docs if d["kind"] == "Deployment"))
broken["spec"]["template"]["spec"]["affinity"]["podAntiAffinty"] = {}
t.check(any("podAntiAffinty" in e for e in k8s_schema.errors(broken)),
        "the schema check catches a misspelt field (control)")

kinds = [d["kind"] for d in docs]
t.check({"Deployment", "Service", "PodDisruptionBudget", "ConfigMap", "NetworkPolicy"} <= set(kinds)
        and "StatefulSet" not in kinds, "fleet manifests: a Deployment (no StatefulSet), Service, PDB, ...")
by_kind = {d["kind"]: d for d in docs}
deployment = by_kind["Deployment"]["spec"]
pod = deployment["template"]["spec"]
labels = deployment["template"]["metadata"]["labels"]
container = pod["containers"][0]
t.check(deployment["replicas"] >= 2 and deployment["selector"]["matchLabels"].items() <= labels.items(),
        "the Deployment runs several replicas and selects its pods")
t.check("volumeClaimTemplates" not in deployment, "stateless: no per-pod claim for a store")

volumes = {v["name"]: v for v in pod["volumes"]}
mounts = {m["mountPath"]: m for m in container["volumeMounts"]}


def volume_of(path):
    """The volume the container sees |path| on (the longest mount prefix)."""
    best = max((m for m in mounts if path == m or path.startswith(m.rstrip("/") + "/")), key=len, default=None)
    t.check(best is not None, "%s lies under a mount" % path)
    return volumes[mounts[best]["name"]], mounts[best]


probe = container["readinessProbe"]["httpGet"]
t.check(probe["path"] == "/healthz" and probe["port"] == "metrics",
        "readiness is /healthz (NOT_SERVING while the database is unreachable)")
t.check("/healthz" not in str(container["livenessProbe"]),
        "liveness is not /healthz: a database outage must not restart every pod")
anti = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
t.check(anti["topologyKey"] == "kubernetes.io/hostname" and anti["labelSelector"]["matchLabels"].items() <= labels.items(),
        "anti-affinity: never two vault pods on one machine")
pdb = by_kind["PodDisruptionBudget"]["spec"]
t.check(pdb["selector"]["matchLabels"].items() <= labels.items()
        and (pdb.get("maxUnavailable") == 1 or 0 < pdb.get("minAvailable", 0) < deployment["replicas"]),
        "the disruption budget covers the pods and lets at most one go at a time")
services = [d for d in docs if d["kind"] == "Service"]
t.check(all(s["spec"]["selector"].items() <= labels.items() and s["spec"]["ports"][0]["targetPort"] == "grpc"
            for s in services), "the Services select the vault pods' gRPC port")
t.check(pod["securityContext"]["runAsNonRoot"] is True and container["securityContext"]["readOnlyRootFilesystem"]
        and container["securityContext"]["allowPrivilegeEscalation"] is False, "non-root, read-only root filesystem")
envs = [e for c in pod["containers"] + pod.get("initContainers", []) for e in c.get("env", [])]
t.check(all("secretKeyRef" not in str(e) and e.get("valueFrom", {}).get("fieldRef") for e in envs),
        "no secret in an environment variable (only the pod's name)")
check_flags(container["args"], "fleet Deployment args")

config = yaml.safe_load(by_kind["ConfigMap"]["data"]["tokenvault.yaml"])
cfg_mount = next(m for m in container["volumeMounts"] if volumes[m["name"]].get("configMap"))
t.check("--config=%s/tokenvault.yaml" % cfg_mount["mountPath"] in container["args"],
        "tokenvaultd reads the ConfigMap's file")
pg = config["store"]["postgres"]
t.check(config["store"]["backend"] == "postgres" and len(conninfo_hosts(pg["conninfo"])) >= 2,
        "the store is the shared PostgreSQL, every member named")
for key, path in (("tls.cert", config["tls"]["cert"]), ("tls.key", config["tls"]["key"]),
                  ("tls.client_ca", config["tls"]["client_ca"]), ("hsm.pin_file", config["hsm"]["pin_file"]),
                  ("store.postgres.password_file", pg["password_file"]),
                  ("sslrootcert", re.search(r"sslrootcert=(\S+)", pg["conninfo"]).group(1))):
    t.check("secret" in volume_of(path)[0], "%s (%s) comes from a Secret volume" % (key, path))
audit_volume, audit_mount = volume_of(config["audit"]["dir"])
claim = next(d for d in docs if d["kind"] == "PersistentVolumeClaim"
             and d["metadata"]["name"] == audit_volume.get("persistentVolumeClaim", {}).get("claimName"))
t.check(audit_mount.get("subPathExpr") == "$(POD_NAME)" and "ReadWriteMany" in claim["spec"]["accessModes"],
        "audit.dir: the pod's own directory (subPathExpr) on a shared volume that outlives it")
t.check(any(c["name"] != container["name"] and "$POD_NAME" in " ".join(c["command"])
            and any(m["name"] == audit_volume["name"] for m in c["volumeMounts"]) for c in pod["initContainers"]),
        "an init container makes that directory (0700) before tokenvaultd starts")
t.check("emptyDir" in volume_of(config["data_dir"])[0], "data_dir is scratch space (emptyDir), not a store volume")

# The configuration passes tokenvaultd's own parser: started on it here,
# the daemon gets past every key and stops at the first file that only the
# pod has (a Secret's), not at a "config line N" error.
cfg_path = t.path("fleet-configmap.yaml")
with open(cfg_path, "w") as f:
    f.write(by_kind["ConfigMap"]["data"]["tokenvault.yaml"])
os.chmod(cfg_path, 0o600)
p = subprocess.run([t.SERVER, "--config", cfg_path], capture_output=True, text=True, timeout=60)
t.check(p.returncode != 0 and "config line" not in p.stderr and "cannot read /etc/tokenvault/" in p.stderr,
        "tokenvaultd parses the ConfigMap's configuration (stops only at a Secret's missing file: %s)"
        % p.stderr.strip()[-160:])

# ---- Patroni -------------------------------------------------------------
members = sorted(n for n in os.listdir(os.path.join(DEPLOY, "patroni")) if re.fullmatch(r"db-\d+\.yml", n))
t.check(len(members) >= 2, "Patroni members: %s" % members)
confs = {m: yaml.safe_load(read("patroni/" + m)) for m in members}


def without_identity(conf):
    """A member's file less what must differ: its name and addresses."""
    c = copy.deepcopy(conf)
    del c["name"]
    for section in ("restapi", "postgresql"):
        for key in ("listen", "connect_address"):
            del c[section][key]
    return c


first = confs[members[0]]
t.check(all(without_identity(c) == without_identity(first) for c in confs.values()),
        "the members differ only in name and addresses")
t.check(len({c["name"] for c in confs.values()}) == len(confs)
        and len({c["postgresql"]["connect_address"] for c in confs.values()}) == len(confs),
        "each member has its own name and address")
dcs = first["bootstrap"]["dcs"]
params = dcs["postgresql"]["parameters"]
t.check(dcs["synchronous_mode"] is True and params["synchronous_commit"] == "on",
        "synchronous_mode with synchronous_commit on: a promoted member has every acknowledged commit")
t.check(dcs["postgresql"]["use_pg_rewind"] is True and params["wal_log_hints"] == "on",
        "a returning primary is rewound (pg_rewind, wal_log_hints)")
t.check(len(first["etcd3"]["hosts"].split(",")) >= 3, "etcd: three members (a majority survives one loss)")
t.check(all("password" not in str(c["postgresql"]["authentication"]) and "password" not in str(c.get("restapi"))
            for c in confs.values()), "no password in the member files (they come from patroni_env.conf)")
t.check(not any("reject" not in line and ("0.0.0.0/0" in line or " trust" in line)
                for line in first["bootstrap"]["pg_hba"]), "pg_hba: no trust, nothing open to the world")
patroni_readme = read("patroni/README.md")
hosts = conninfo_hosts(re.search(r'conninfo: "([^"]+)"', patroni_readme).group(1))
t.check(sorted(hosts) == sorted(c["postgresql"]["connect_address"].split(":")[0] for c in confs.values()),
        "tokenvaultd's conninfo in deploy/patroni/README.md names every member (%s)" % hosts)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def validate(path, etcd):
    """`patroni --validate-config PATH`. The validator connects to the
    addresses it is given (a listen address must be free, etcd must
    answer): those alone are pointed at this machine through Patroni's own
    PATRONI_* environment overrides, so the file is checked as written."""
    data = t.path("patroni-data-%d" % free_port())
    env = dict(os.environ, PATRONI_RESTAPI_LISTEN="127.0.0.1:%d" % free_port(),
               PATRONI_POSTGRESQL_LISTEN="127.0.0.1:%d" % free_port(), PATRONI_POSTGRESQL_DATA_DIR=data,
               PATRONI_ETCD3_HOSTS="127.0.0.1:%d" % etcd)
    try:
        p = subprocess.run(["patroni", "--validate-config", path], env=env, capture_output=True, text=True,
                           timeout=60)
    except FileNotFoundError:
        t.fail("no patroni: apt-get install patroni (deploy/packages.txt)")
    return p.returncode, (p.stdout + p.stderr).strip()


with socket.socket() as etcd_stand_in:  # the validator only checks that etcd's port answers
    etcd_stand_in.bind(("127.0.0.1", 0))
    etcd_stand_in.listen(8)
    etcd_port = etcd_stand_in.getsockname()[1]
    for m in members:
        rc, out = validate(os.path.join(DEPLOY, "patroni", m), etcd_port)
        t.check(rc == 0, "patroni --validate-config %s: valid %s" % (m, out))
    scopeless = t.path("patroni-scopeless.yml")
    with open(scopeless, "w") as f:
        yaml.safe_dump({k: v for k, v in first.items() if k != "scope"}, f)
    rc, out = validate(scopeless, etcd_port)
    t.check(rc != 0 and "scope" in out, "the validator refuses a member without scope (control: %s)" % out)

# ---- README and fleet.sh ------------------------------------------------
with open(README) as f:
    readme = f.read()
fleet = read("fleet.sh")
knobs = set(re.findall(r"\bTV_FLEET_[A-Z_]+", fleet)) | set(re.findall(r"^\s+(--[a-z-]+)\)", fleet, re.M))
t.check({"TV_FLEET_BUILD_DIR", "TV_FLEET_PORT", "--stop", "--port"} <= knobs,
        "fleet.sh's knobs are found in the script (%s)" % sorted(knobs))
missing = sorted(k for k in knobs if "`%s" % k not in readme)
t.check(not missing, "the README documents every fleet.sh knob (missing: %s)" % missing)
for rel in ("deploy/fleet.sh", "deploy/patroni/", "deploy/kubernetes/tokenvault-fleet.yaml"):
    t.check(rel in readme, "the README's Fleet section points at %s" % rel)
