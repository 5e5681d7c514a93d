#!/usr/bin/env python3
"""Runs the token verification snippets of docs/tokens.md on test cases.

    doc_snippets.py python|js DOC CASES_JSON

Takes the one ```python or ```js block under the heading "Verifying a
token at the provider" of DOC, exactly as written, and runs it once per
case with a prelude that defines its free variables:

    python  token, jwks_json, client_cert_der, requested_fields, issuer,
            party_id
    js      token, jwksJson, clientCertDer, requestedFields, issuer,
            partyId

CASES_JSON is {"jwks": FILE, "cases": [{"name", "token": FILE, "cert":
FILE (DER), "issuer", "party_id", "fields": [...]}, ...]}. The Python
snippet runs in this interpreter (run it with the python3 that has
jwcrypto: Debian's python3-jwcrypto is in /usr/bin/python3); the JS
snippet runs in one node process, one ES module per case, importing the
"jose" package found in NODE_PATH or /usr/share/nodejs (Debian's
node-jose), linked into a node_modules next to the modules since ES
modules ignore NODE_PATH.

Prints one JSON object {case name: "accepted" | "refused: Type: message"}
and exits 0. Exits 2, saying why on stderr, when a library or node is
missing, when the snippet is not found, or when a case fails for a reason
that is not a refusal (a syntax error, an undefined name): the snippet or
this prelude is broken, and a refusal must not hide it.
"""
import base64
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HEADING = "## Verifying a token at the provider"
NODE_TIMEOUT_S = 60
# Exceptions that mean a broken snippet or prelude, never a refusal.
PY_BROKEN = (NameError, SyntaxError, ImportError)
JS_BROKEN = ("SyntaxError", "ReferenceError")


def die(msg):
    print("doc_snippets: " + msg, file=sys.stderr)
    sys.exit(2)


def extract(doc, lang):
    """The lang block of the section HEADING and its first line number."""
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^" + re.escape(HEADING) + r"\n(.*?)(?=^## |\Z)", text,
                  re.M | re.S)
    if m is None:
        die("%s: no section %r" % (doc, HEADING))
    blocks = [b for b in re.finditer(r"^```(\w+)\n(.*?)^```$", m.group(1),
                                     re.M | re.S) if b.group(1) == lang]
    if len(blocks) != 1:
        die("%s: %d ```%s blocks under %r, expected 1"
            % (doc, len(blocks), lang, HEADING))
    b = blocks[0]
    line = text.count("\n", 0, m.start(1) + b.start(2)) + 1
    return b.group(2), line


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def run_python(doc, jwks, cases):
    if importlib.util.find_spec("jwcrypto") is None:
        die("%s has no jwcrypto: install Debian's python3-jwcrypto "
            "(scripts/deps.sh does)" % sys.executable)
    src, line = extract(doc, "python")
    # Padded so that tracebacks give the line numbers of DOC.
    code = compile("\n" * (line - 1) + src, doc, "exec")
    out = {}
    for c in cases:
        env = {"__name__": "__snippet__", "token": read(c["token"]).strip(),
               "jwks_json": jwks, "client_cert_der": read(c["cert"], "rb"),
               "requested_fields": c["fields"], "issuer": c["issuer"],
               "party_id": c["party_id"]}
        try:
            exec(code, env)
            out[c["name"]] = "accepted"
        except PY_BROKEN as e:
            die("case %s: the snippet is broken: %s: %s"
                % (c["name"], type(e).__name__, e))
        except Exception as e:  # pylint: disable=broad-except
            out[c["name"]] = "refused: %s: %s" % (type(e).__name__, e)
    return out


def find_jose():
    dirs = [d for d in os.environ.get("NODE_PATH", "").split(":") if d]
    for d in dirs + ["/usr/share/nodejs", "/usr/lib/nodejs"]:
        pkg = os.path.join(d, "jose", "package.json")
        try:
            if json.loads(read(pkg)).get("name") == "jose":
                return os.path.dirname(pkg)
        except (OSError, ValueError):
            continue
    die("no \"jose\" module in NODE_PATH or /usr/share/nodejs: install "
        "Debian's node-jose (scripts/deps.sh does)")
    return None


# One module per case: the prelude, then the snippet as written.
JS_PRELUDE = """\
const token = %(token)s;
const jwksJson = %(jwks)s;
const clientCertDer = Buffer.from(%(cert)s, "base64");
const requestedFields = %(fields)s;
const issuer = %(issuer)s;
const partyId = %(party_id)s;
"""

# Imports every case in turn (a rejected top-level await rejects import()).
JS_DRIVER = """\
const out = {};
for (const name of %s) {
  try {
    await import(`./case-${name}.mjs`);
    out[name] = { ok: true };
  } catch (e) {
    out[name] = { ok: false, name: e?.name, message: e?.message,
      code: e?.code };
  }
}
console.log(JSON.stringify(out));
"""


def run_js(doc, jwks, cases, workdir):
    node = shutil.which("node")
    if node is None:
        die("no node in PATH: install Debian's nodejs (scripts/deps.sh "
            "does)")
    jose = find_jose()
    src, _ = extract(doc, "js")
    d = tempfile.mkdtemp(prefix="js-", dir=workdir)
    os.mkdir(os.path.join(d, "node_modules"))
    os.symlink(jose, os.path.join(d, "node_modules", "jose"))
    names = []
    for i, c in enumerate(cases):
        name = "%02d" % i
        names.append(name)
        prelude = JS_PRELUDE % {
            "token": json.dumps(read(c["token"]).strip()),
            "jwks": json.dumps(jwks),
            "cert": json.dumps(base64.b64encode(read(c["cert"], "rb"))
                               .decode()),
            "fields": json.dumps(c["fields"]),
            "issuer": json.dumps(c["issuer"]),
            "party_id": json.dumps(c["party_id"])}
        with open(os.path.join(d, "case-%s.mjs" % name), "w") as f:
            f.write(prelude + src)
    with open(os.path.join(d, "main.mjs"), "w") as f:
        f.write(JS_DRIVER % json.dumps(names))
    try:
        p = subprocess.run([node, "main.mjs"], cwd=d, capture_output=True,
                           text=True, timeout=NODE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        die("node timed out after %d s" % NODE_TIMEOUT_S)
    if p.returncode != 0:
        die("node exited with %d: %s" % (p.returncode, p.stderr))
    res = json.loads(p.stdout.strip().splitlines()[-1])
    out = {}
    for name, c in zip(names, cases):
        r = res[name]
        if r["ok"]:
            out[c["name"]] = "accepted"
        elif r["name"] in JS_BROKEN or r.get("code") == "ERR_MODULE_NOT_FOUND":
            die("case %s: the snippet is broken: %s: %s (in %s)"
                % (c["name"], r["name"], r["message"], d))
        else:
            out[c["name"]] = "refused: %s: %s" % (r["name"], r["message"])
    shutil.rmtree(d)
    return out


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("python", "js"):
        die("usage: doc_snippets.py python|js DOC CASES_JSON")
    lang, doc, cases_path = sys.argv[1:]
    spec = json.loads(read(cases_path))
    jwks = read(spec["jwks"])
    if lang == "python":
        out = run_python(doc, jwks, spec["cases"])
    else:
        out = run_js(doc, jwks, spec["cases"],
                     os.path.dirname(os.path.abspath(cases_path)))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
