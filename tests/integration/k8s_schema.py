"""Offline schema check of Kubernetes manifests with Debian's
python3-kubernetes (its typed models carry the API's field names and
types): every field must exist in its object's schema (a misspelt
`subPathExpr` or `podAntiAffinity` is silently ignored by a cluster
applying the file), scalars must have their type, and the client's own
deserialisation must accept the document (required fields present). No
cluster is needed; what a cluster's admission adds (defaults, policies)
is not checked."""
import re

try:
    import kubernetes.client as kc
except ImportError:  # the caller reports it, naming the package
    kc = None

SCALARS = {"str": str, "int": int, "bool": bool, "float": (int, float)}


def _list_errors(value, inner, where):
    if not isinstance(value, list):
        return ["%s: a list expected" % where]
    errors = []
    for i, item in enumerate(value):
        errors += _errors(item, inner, "%s[%d]" % (where, i))
    return errors


def _dict_errors(value, inner, where):
    if not isinstance(value, dict):
        return ["%s: a mapping expected" % where]
    errors = []
    for key, item in value.items():
        errors += _errors(item, inner, "%s.%s" % (where, key))
    return errors


def _model_errors(value, model_name, where):
    model = getattr(kc, model_name, None)
    if model is None:
        return ["%s: no schema %s in python3-kubernetes" % (where, model_name)]
    if not isinstance(value, dict):
        return ["%s: an object (%s) expected" % (where, model_name)]
    attr_of = {json_name: attr for attr, json_name in model.attribute_map.items()}
    errors = []
    for key, item in value.items():
        if key not in attr_of:
            errors.append("%s.%s: no such field in %s" % (where, key, model_name))
        else:
            errors += _errors(item, model.openapi_types[attr_of[key]], "%s.%s" % (where, key))
    return errors


def _errors(value, type_name, where):
    m = re.fullmatch(r"list\[(.*)\]", type_name)
    if m:
        return _list_errors(value, m.group(1), where)
    m = re.fullmatch(r"dict\(str, (.*)\)", type_name)
    if m:
        return _dict_errors(value, m.group(1), where)
    if type_name in ("object", "datetime"):  # int-or-string, quantities, free-form
        return []
    if type_name in SCALARS:
        ok = isinstance(value, SCALARS[type_name]) and not (type_name != "bool" and isinstance(value, bool))
        return [] if ok else ["%s: %r is not %s" % (where, value, type_name)]
    return _model_errors(value, type_name, where)


def model_name(doc):
    """V1Deployment for apps/v1 Deployment, V1PodDisruptionBudget for policy/v1 ..."""
    version = doc.get("apiVersion", "").split("/")[-1]
    return version[:1].upper() + version[1:] + doc.get("kind", "")


def errors(doc):
    """Every schema problem of one manifest document, as readable lines."""
    if kc is None:
        return ["python3-kubernetes is not installed (deploy/packages.txt)"]
    name = model_name(doc)
    found = _errors(doc, name, doc.get("kind", "?") + " " + str(doc.get("metadata", {}).get("name")))
    if found:
        return found
    try:  # required fields, enums the client knows
        kc.ApiClient()._ApiClient__deserialize(doc, name)
    except (ValueError, TypeError) as e:
        return ["%s: %s" % (name, e)]
    return []
