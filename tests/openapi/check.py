"""Check the OpenAPI document of a running Tidings node with real tools, for
tests/openapi_stories.rs:

1. the document is valid OpenAPI 3.1 (openapi-spec-validator);
2. each sample answer (a concrete GET path the story made meaningful) conforms to the
   schema the document declares for that path's 200 answer (jsonschema, 2020-12).

    python check.py BASE TOKEN PATH [PATH ...]

Prints a JSON report; exits non-zero on any failure.
"""
import json
import sys
import urllib.error
import urllib.request

import jsonschema
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

base, token, paths = sys.argv[1], sys.argv[2], sys.argv[3:]


def get(path, auth=True):
    req = urllib.request.Request(base + path, headers={"accept": "application/json"})
    if auth:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as res:
        return json.loads(res.read())


doc = get("/api/openapi.json", auth=False)
validate(doc)  # raises on an invalid document

registry = Registry().with_resource("urn:tidings:openapi", Resource(contents=doc, specification=DRAFT202012))


def template_of(path):
    """The document's path template that `path` instantiates (literal segments first)."""
    segs = path.split("?")[0].strip("/").split("/")
    best = None
    for t in doc["paths"]:
        tsegs = t.strip("/").split("/")
        if len(tsegs) != len(segs):
            continue
        literal = 0
        ok = True
        for a, b in zip(tsegs, segs):
            if a == b:
                literal += 1
            elif not (a.startswith("{") or a.startswith("@{")):
                ok = False
                break
        if ok and (best is None or literal > best[0]):
            best = (literal, t)
    return best and best[1]


report = []
failures = []
for path in paths:
    t = template_of(path)
    if t is None:
        failures.append(f"{path}: no path of the document matches")
        continue
    op = doc["paths"][t].get("get")
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    # Refs inside are document-absolute ("#/components/…"): resolve them in the document.
    probe = json.loads(json.dumps(schema).replace('"#/components/', '"urn:tidings:openapi#/components/'))
    try:
        body = get(path)
    except urllib.error.HTTPError as e:
        failures.append(f"{path}: HTTP {e.code}")
        continue
    try:
        jsonschema.Draft202012Validator(probe, registry=registry).validate(body)
        report.append({"path": path, "template": t, "schema": schema, "ok": True,
                       "items": len(body) if isinstance(body, list) else None})
    except jsonschema.ValidationError as e:
        failures.append(f"{path} ({t}): {e.message} at {list(e.absolute_path)}")
print(json.dumps({"operations": sum(len(v) for v in doc["paths"].values()),
                  "checked": report, "failures": failures}))
sys.exit(1 if failures else 0)
