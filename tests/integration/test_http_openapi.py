"""proto/openapi/tokenvault.v1.yaml against the standard and the server:
valid OpenAPI 3 by @apidevtools/swagger-parser (installed with `npm ci`
from the committed lockfile into the build directory; a deliberately broken
copy must be refused, so the validator is known to run), every path in it
served by tokenvaultd --dev and every served path in it, each message
schema's properties exactly the proto message's fields, and the answers a
client receives (data, key, audit, problem, health) matching their
documented schemas."""
import hashlib
import json
import os
import re
import shutil
import subprocess

import yaml

import http_api as h
import tvtest as t

DOC = os.path.join(t.PROTO_DIR, "openapi", "tokenvault.v1.yaml")
HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.join(HERE, "openapi")
ROUTES_C = os.environ.get("TV_HTTP_ROUTES", "")
DEPS = os.environ.get("TV_OPENAPI_DEPS", "")
NODE = os.environ.get("TV_NODE", "")
NPM = os.environ.get("TV_NPM", "")
NPM_TIMEOUT_S = 300

with open(DOC) as f:
    doc = yaml.safe_load(f)
schemas = doc["components"]["schemas"]


def install_validator():
    """npm ci into DEPS from the lockfile, unless DEPS holds that install."""
    stamp = hashlib.sha256(open(os.path.join(PKG, "package-lock.json"), "rb").read()).hexdigest()
    stamp_path = os.path.join(DEPS, "installed.sha256")
    if os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
        return "reused"
    shutil.rmtree(DEPS, ignore_errors=True)
    os.makedirs(DEPS)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(os.path.join(PKG, name), DEPS)
    p = subprocess.run([NPM, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=DEPS, capture_output=True,
                       timeout=NPM_TIMEOUT_S)
    t.check(p.returncode == 0, "npm ci of the validator (%s)" % (p.stdout + p.stderr).decode(errors="replace")[-300:])
    with open(stamp_path, "w") as f:
        f.write(stamp)
    return "installed"


def validate(path):
    env = dict(os.environ, TV_OPENAPI_DEPS=DEPS)
    return subprocess.run([NODE, os.path.join(PKG, "validate.js"), path], capture_output=True, env=env, timeout=60)


def check_standard():
    t.check(bool(NODE) and bool(NPM), "node and npm found (Debian packages nodejs, npm)")
    how = install_validator()
    p = validate(DOC)
    t.check(p.returncode == 0, "swagger-parser (%s): %s%s" % (how, p.stdout.decode().strip(), p.stderr.decode()))
    broken = json.loads(json.dumps(doc))
    del broken["paths"]["/v1/tokenize"]["post"]["responses"]
    broken_path = t.path("broken.yaml")
    with open(broken_path, "w") as f:
        yaml.safe_dump(broken, f)
    p = validate(broken_path)
    t.check(p.returncode != 0, "a document with an operation lacking responses is refused (%s)" %
            p.stderr.decode().strip()[:120])


def check_paths(port):
    documented = {(path, m.upper()) for path, ops in doc["paths"].items() for m in ops}
    with open(ROUTES_C) as f:
        served = set(re.findall(r'\{"(/v1/[a-z/:]+)", "(GET|POST)"', f.read()))
    t.check(len(served) >= 16, "routes.c lists the served paths (%d)" % len(served))
    t.check(documented == served, "the document lists exactly the served paths (only documented: %s; only "
            "served: %s)" % (sorted(documented - served), sorted(served - documented)))
    for path, method in sorted(documented):
        media = "application/x-ndjson" if path.endswith(":stream") else "application/json"
        status, headers, data = h.request(port, method, path, raw=b"{}" if method == "POST" else None,
                                          headers={"Content-Type": media} if method == "POST" else {})
        if path.endswith(":stream"):
            t.check(status == 200 and headers["content-type"] == media, "%s answers an NDJSON stream (%d)" %
                    (path, status))
        name = json.loads(data).get("name") if status >= 400 else None
        t.check(name not in ("HTTP_NOT_FOUND", "HTTP_METHOD"), "%s %s is served (%d %s)" % (method, path, status,
                                                                                             name))


def check_fields(pb):
    for name, desc in pb.DESCRIPTOR.message_types_by_name.items():
        t.check(name in schemas, "schema %s documented" % name)
        t.check(set(schemas[name]["properties"]) == {f.name for f in desc.fields},
                "schema %s has exactly the proto fields" % name)


def conforms(value, schema, where):
    """A small structural check of |value| against an OpenAPI schema: $ref,
    type, enum, pattern, required, additionalProperties, items."""
    if "$ref" in schema:
        return conforms(value, schemas[schema["$ref"].split("/")[-1]], where)
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if kind == "integer":
        t.check(isinstance(value, int) and not isinstance(value, bool), "%s is an integer" % where)
    elif kind in types:
        t.check(isinstance(value, types[kind]), "%s is a %s (%r)" % (where, kind, value))
    if "enum" in schema:
        t.check(value in schema["enum"], "%s is one of its enum (%r)" % (where, value))
    if "pattern" in schema:
        t.check(re.search(schema["pattern"], value) is not None, "%s matches %s" % (where, schema["pattern"]))
    if kind == "object":
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            t.check(key in value, "%s has %s" % (where, key))
        for key, v in value.items():
            if key in props:
                conforms(v, props[key], where + "." + key)
            elif isinstance(schema.get("additionalProperties"), dict):
                conforms(v, schema["additionalProperties"], where + "." + key)
            else:
                t.check(schema.get("additionalProperties", True) is not False, "%s has no field %s" % (where, key))
    if kind == "array":
        for i, v in enumerate(value):
            conforms(v, schema["items"], "%s[%d]" % (where, i))


def check_answers(port):
    """Answers received match the schema the document gives for them."""
    token = h.ok(port, "/v1/tokenize", {"namespace": "pan", "values": ["4111111111111111", "1"]}, "tokenize")
    exchanges = [("/v1/tokenize", {"namespace": "pan", "values": ["4111111111111111", "1"],
                                   "metadata": {"crm": "x"}, "ttl_seconds": "3600"})]
    tok = token["results"][0]["token"]
    exchanges += [("/v1/detokenize", {"namespace": "pan", "tokens": [tok, "x"], "reveal": "REVEAL_MASKED"}),
                  ("/v1/tokens/info", {"namespace": "pan", "tokens": [tok]}),
                  ("/v1/keys/list", {}), ("/v1/keys/status", {}), ("/v1/audit/verify", {}), ("/v1/whoami", {}),
                  ("/v1/kek/propose", {"reason": "r"}), ("/v1/audit/read", {"limit": 5}), ("/v1/tokens/delete", {"namespace": "pan", "tokens": [tok]}),
                  ("/v1/values/erase", {"namespace": "pan", "value": "4111111111111111"}),
                  ("/v1/keys/rotate", {"namespace": "ssn"}),
                  ("/v1/tokenize", {"namespace": "nope", "values": ["1"]}), ("/v1/tokenize", {"bad": 1})]
    for path, body in exchanges:
        status, headers, data = h.request(port, "POST", path, body)
        answer = doc["paths"][path]["post"]["responses"][str(status)]
        if "$ref" in answer:
            answer = doc["components"]["responses"][answer["$ref"].split("/")[-1]]
        media = headers["content-type"]
        t.check(media in answer["content"], "%s %d: documented as %s" % (path, status, media))
        conforms(json.loads(data), answer["content"][media]["schema"], "%s %d" % (path, status))
        print("ok: %s %d matches its documented schema" % (path, status))
    # NDJSON streams: each answer line matches the schema of its kind (an
    # answer, or the StreamProblem that ends the stream).
    streams = [("/v1/tokenize:stream", [{"namespace": "pan", "values": ["4111111111111111"]}, {"namespace": "nope"}]),
               ("/v1/detokenize:stream", [{"namespace": "pan", "tokens": [tok], "reveal": "REVEAL_MASKED"},
                                          {"namespace": "pan", "bad": 1}])]
    for path, lines in streams:
        body = b"".join((json.dumps(x) + "\n").encode() for x in lines)
        status, headers, data = h.request(port, "POST", path, raw=body,
                                          headers={"Content-Type": "application/x-ndjson"})
        answer = doc["paths"][path]["post"]["responses"][str(status)]["content"][headers["content-type"]]
        kinds = [k["$ref"].split("/")[-1] for k in answer["schema"]["oneOf"]]
        got = [json.loads(x) for x in data.splitlines()]
        t.check(len(got) == 2 and "type" in got[1], "%s: an answer line, then a problem line (%s)" % (path, got))
        for i, x in enumerate(got):
            kind = "StreamProblem" if "type" in x else kinds[0]
            conforms(x, {"$ref": "#/components/schemas/" + kind}, "%s line %d" % (path, i + 1))
        print("ok: %s %d lines match their documented schemas" % (path, status))
    status, headers, data = h.request(port, "GET", "/v1/health", headers={})
    conforms(json.loads(data), doc["paths"]["/v1/health"]["get"]["responses"][str(status)]["content"]
             [headers["content-type"]]["schema"], "health")


check_standard()
pb, _ = t.generate_stubs()
check_fields(pb)
server, port = h.start_dev(t.path("var-openapi"))
check_paths(port)
check_answers(port)
rc, _ = server.terminate(30)
t.check(rc == 0, "clean exit")
print("PASS")
