#!/usr/bin/env python3
"""check_meta.py: checks META.json against the PGXN Meta Spec 1.0.0.

Debian has no PGXN validator (pgxnclient reads META.json but does not
validate it; PGXN::Meta::Validator is not packaged), so this checks what the
spec requires: the required keys, each key's type and form (names, semantic
versions, the licence names, prereq phases and relations, release status,
tags, resources), custom keys only with an x_ prefix.  It also checks what
the project needs: the distribution's and the extension's version are
sync.control's default_version, and the files META.json names exist.

  check_meta.py [META.json]      prints each problem; exit 1 on any
  check_meta.py --self-test      TAP: broken copies of META.json, each
                                 of which must be refused
"""
import copy
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# the spec's licence strings
LICENSES = {
    "agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd", "freebsd",
    "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1", "lgpl_3_0", "mit",
    "mozilla_1_0", "mozilla_1_1", "openssl", "perl_5", "postgresql", "qpl_1_0", "ssleay",
    "sun", "zlib", "open_source", "restricted", "unrestricted", "unknown",
}
TOP_KEYS = {
    "name", "abstract", "description", "version", "maintainer", "license", "provides",
    "prereqs", "resources", "release_status", "tags", "no_index", "generated_by", "meta-spec",
}
REQUIRED = ["name", "abstract", "maintainer", "license", "provides", "meta-spec", "version"]
PHASES = {"configure", "build", "test", "runtime", "develop"}
RELATIONS = {"requires", "recommends", "suggests", "conflicts"}
# Semantic Versioning 1.0.0, as PGXN uses it (1.2.3, 1.2.3beta1; 1.2.3-beta1 is accepted too)
SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-?[A-Za-z][0-9A-Za-z-]*)?$")
# a version range: one or more clauses "[op] version" joined by commas
RANGE_CLAUSE = re.compile(r"^\s*(==|!=|>=|<=|>|<)?\s*(\S+)\s*$")
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


def is_term(s):
    """A name or tag: a string of 2+ characters without slash, backslash or control characters."""
    return isinstance(s, str) and len(s) >= 2 and not re.search(r"[/\\\x00-\x1f\x7f]", s)


def is_custom(key):
    return isinstance(key, str) and (key.startswith("x_") or key.startswith("X_"))


def check_version_range(v):
    if v == 0 or v == "0":
        return True
    if not isinstance(v, str):
        return False
    for clause in v.split(","):
        m = RANGE_CLAUSE.match(clause)
        if not m or not SEMVER.match(m.group(2)):
            return False
    return True


def problems_of(meta, root=ROOT):
    p = []
    if not isinstance(meta, dict):
        return ["META.json is not a JSON object"]
    for k in REQUIRED:
        if k not in meta:
            p.append(f"required key {k!r} is missing")
    for k in meta:
        if k not in TOP_KEYS and not is_custom(k):
            p.append(f"unknown key {k!r} (custom keys start with x_)")

    if "name" in meta and not is_term(meta["name"]):
        p.append("name: a string of 2+ characters without /, \\ or control characters")
    for k in ("abstract", "description", "generated_by"):
        if k in meta and not (isinstance(meta[k], str) and meta[k].strip()):
            p.append(f"{k}: a non-empty string")
    if "version" in meta and not (isinstance(meta["version"], str) and SEMVER.match(meta["version"])):
        p.append(f"version: a semantic version, not {meta['version']!r}")

    m = meta.get("maintainer")
    if "maintainer" in meta and not (
            (isinstance(m, str) and m.strip()) or
            (isinstance(m, list) and m and all(isinstance(x, str) and x.strip() for x in m))):
        p.append("maintainer: a string or a non-empty list of strings")

    lic = meta.get("license")
    if "license" in meta:
        ok = (isinstance(lic, str) and lic in LICENSES) or \
             (isinstance(lic, list) and lic and all(isinstance(x, str) and x in LICENSES for x in lic)) or \
             (isinstance(lic, dict) and lic and all(isinstance(v, str) and URI.match(v) for v in lic.values()))
        if not ok:
            p.append(f"license: one of the spec's licence names, a list of them or an object of URLs, not {lic!r}")

    prov = meta.get("provides")
    if "provides" in meta:
        if not (isinstance(prov, dict) and prov):
            p.append("provides: an object naming at least one extension")
        else:
            for ext, v in prov.items():
                if not is_term(ext):
                    p.append(f"provides: {ext!r} is not a valid extension name")
                if not isinstance(v, dict):
                    p.append(f"provides.{ext}: an object")
                    continue
                for k in ("file", "version"):
                    if k not in v:
                        p.append(f"provides.{ext}.{k} is missing")
                for k in v:
                    if k not in ("file", "version", "abstract", "docfile") and not is_custom(k):
                        p.append(f"provides.{ext}: unknown key {k!r}")
                if "version" in v and not (isinstance(v["version"], str) and SEMVER.match(v["version"])):
                    p.append(f"provides.{ext}.version: a semantic version, not {v['version']!r}")
                for k in ("file", "docfile"):
                    if k in v:
                        if not (isinstance(v[k], str) and v[k] and not os.path.isabs(v[k])):
                            p.append(f"provides.{ext}.{k}: a relative path")
                        elif not os.path.isfile(os.path.join(root, v[k])):
                            p.append(f"provides.{ext}.{k}: {v[k]} is not in the distribution")
                if "abstract" in v and not (isinstance(v["abstract"], str) and v["abstract"].strip()):
                    p.append(f"provides.{ext}.abstract: a non-empty string")

    pre = meta.get("prereqs")
    if "prereqs" in meta:
        if not isinstance(pre, dict):
            p.append("prereqs: an object of phases")
        else:
            for phase, rels in pre.items():
                if phase not in PHASES and not is_custom(phase):
                    p.append(f"prereqs: unknown phase {phase!r}")
                if not isinstance(rels, dict):
                    p.append(f"prereqs.{phase}: an object of relations")
                    continue
                for rel, reqs in rels.items():
                    if rel not in RELATIONS and not is_custom(rel):
                        p.append(f"prereqs.{phase}: unknown relation {rel!r}")
                    if not isinstance(reqs, dict):
                        p.append(f"prereqs.{phase}.{rel}: an object of names and versions")
                        continue
                    for name, ver in reqs.items():
                        if not is_term(name):
                            p.append(f"prereqs.{phase}.{rel}: {name!r} is not a valid name")
                        if not check_version_range(ver):
                            p.append(f"prereqs.{phase}.{rel}.{name}: a version or version range, not {ver!r}")

    res = meta.get("resources")
    if "resources" in meta:
        if not isinstance(res, dict):
            p.append("resources: an object")
        else:
            for k, v in res.items():
                if k == "homepage":
                    if not (isinstance(v, str) and URI.match(v)):
                        p.append("resources.homepage: a URI")
                elif k in ("bugtracker", "repository"):
                    allowed = {"bugtracker": {"web", "mailto"}, "repository": {"url", "web", "type"}}[k]
                    if not (isinstance(v, dict) and v):
                        p.append(f"resources.{k}: a non-empty object")
                        continue
                    for kk, vv in v.items():
                        if kk not in allowed and not is_custom(kk):
                            p.append(f"resources.{k}: unknown key {kk!r}")
                        elif not (isinstance(vv, str) and vv.strip()):
                            p.append(f"resources.{k}.{kk}: a string")
                elif not is_custom(k):
                    p.append(f"resources: unknown key {k!r}")

    if "release_status" in meta and meta["release_status"] not in ("stable", "testing", "unstable"):
        p.append(f"release_status: stable, testing or unstable, not {meta['release_status']!r}")

    tags = meta.get("tags")
    if "tags" in meta and not (isinstance(tags, list) and tags and
                               all(is_term(t) and len(t) <= 255 for t in tags)):
        p.append("tags: a non-empty list of tags (2-255 characters, no /, \\ or control characters)")

    ni = meta.get("no_index")
    if "no_index" in meta:
        if not (isinstance(ni, dict) and all(
                k in ("file", "directory") or is_custom(k) for k in ni) and all(
                isinstance(v, (str, list)) for v in ni.values())):
            p.append("no_index: an object of file and directory lists")

    ms = meta.get("meta-spec")
    if "meta-spec" in meta:
        if not isinstance(ms, dict) or ms.get("version") != "1.0.0":
            p.append("meta-spec: an object whose version is \"1.0.0\"")
        elif "url" in ms and not (isinstance(ms["url"], str) and URI.match(ms["url"])):
            p.append("meta-spec.url: a URI")

    # the project's own rules: one version everywhere, from sync.control
    control = os.path.join(root, "sync.control")
    if os.path.isfile(control):
        m = re.search(r"^default_version\s*=\s*'([^']*)'", open(control).read(), re.M)
        want = m.group(1) if m else None
        if meta.get("version") != want:
            p.append(f"version {meta.get('version')!r} is not sync.control's default_version {want!r}")
        if isinstance(prov, dict) and isinstance(prov.get("sync"), dict) and prov["sync"].get("version") != want:
            p.append(f"provides.sync.version {prov['sync'].get('version')!r} is not sync.control's default_version {want!r}")
    return p


def self_test(meta):
    """Each broken copy of META.json must be refused (and the real one passed)."""
    def without(k):
        def f(m):
            del m[k]
        return f

    def setter(path, value):
        def f(m):
            d = m
            for k in path[:-1]:
                d = d[k]
            d[path[-1]] = value
        return f

    cases = [(f"without {k}", without(k)) for k in REQUIRED] + [
        ("a version that is not semantic", setter(["version"], "0.7")),
        ("a version other than sync.control's", setter(["version"], "9.9.9")),
        ("a licence name the spec lacks", setter(["license"], "PostgreSQL License")),
        ("a list maintainer that is empty", setter(["maintainer"], [])),
        ("a one-character name", setter(["name"], "s")),
        ("a name with a slash", setter(["name"], "sy/nc")),
        ("provides with no extension", setter(["provides"], {})),
        ("an extension without file", lambda m: m["provides"]["sync"].pop("file")),
        ("an extension whose file is not there", setter(["provides", "sync", "file"], "sql/nothing.sql")),
        ("an extension version other than sync.control's", setter(["provides", "sync", "version"], "0.1.0")),
        ("an unknown prereq phase", setter(["prereqs", "running"], {"requires": {"PostgreSQL": "15.0.0"}})),
        ("an unknown prereq relation", setter(["prereqs", "runtime", "needs"], {"PostgreSQL": "15.0.0"})),
        ("a prereq version that is no version", setter(["prereqs", "runtime", "requires", "PostgreSQL"], "fifteen")),
        ("an unknown release status", setter(["release_status"], "beta")),
        ("tags that are a string", setter(["tags"], "market data")),
        ("a custom key without x_", setter(["external_requirements"], ["libcurl"])),
        ("a meta-spec of another version", setter(["meta-spec", "version"], "2.0.0")),
        ("a bugtracker that is a string", setter(["resources"], {"bugtracker": "issues"})),
    ]
    n = 0
    failed = 0
    real = problems_of(meta)
    n += 1
    print(f"{'ok' if not real else 'not ok'} {n} - META.json itself passes")
    failed += bool(real)
    for what, mutate in cases:
        m = copy.deepcopy(meta)
        mutate(m)
        n += 1
        if problems_of(m):
            print(f"ok {n} - refused: {what}")
        else:
            print(f"not ok {n} - accepted: {what}")
            failed += 1
    print(f"1..{n}")
    return failed == 0


def main():
    args = sys.argv[1:]
    test = "--self-test" in args
    args = [a for a in args if a != "--self-test"]
    path = args[0] if args else os.path.join(ROOT, "META.json")
    try:
        with open(path) as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        print(f"{path}: {e}")
        return 1
    if test:
        return 0 if self_test(meta) else 1
    p = problems_of(meta, os.path.dirname(os.path.abspath(path)))
    for x in p:
        print(f"{path}: {x}")
    if not p:
        print(f"{path}: valid (PGXN Meta Spec 1.0.0)")
    return 1 if p else 0


if __name__ == "__main__":
    sys.exit(main())
