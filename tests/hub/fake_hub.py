"""A small Hugging Face Hub-compatible HTTP server for tests, on loopback.

Run it as a process (``python -m tests.hub.fake_hub --root DIR --token TOKEN``);
it prints ``fake-hub listening on http://127.0.0.1:PORT`` once bound, and the
real ``huggingface_hub`` client talks to it through ``HF_ENDPOINT``. It
implements only what huggingface_hub 2.4.0 calls for aezoo's publish, pull and
load, model repos only::

    POST /api/repos/create                       {name, organization, visibility}
    POST /api/validate-yaml                      front matter must parse as a YAML mapping
    PUT  /api/models/{repo}/settings             {gated}
    GET  /api/models/{repo}[/revision/{rev}]     id, sha, private, gated, siblings
    GET  /api/models/{repo}/tree/{rev}           ?recursive=true only: every file, one page
    GET  /api/models/{repo}/refs                 branches and tags
    GET  /api/models/{repo}/commits/{rev}        first-parent history, one page
    POST /api/models/{repo}/preupload/{rev}      every file "regular", oid = git blob sha1
    POST /api/models/{repo}/commit/{rev}         NDJSON: header, file (base64), deletedFile;
                                                 ?create_pr=1 opens refs/pr/N
    POST /api/models/{repo}/branch/{branch}      {startingPoint}
    POST /api/models/{repo}/tag/{rev}            {tag, message}
    HEAD/GET /{repo}/resolve/{rev}/{path}        X-Repo-Commit, ETag (git blob sha1),
                                                 Content-Length; no Range, no redirects

Faults: while ``--root``/``faults.json`` holds ``{"ORG/REPO": STATUS}``, every request
about that repo is answered with STATUS and no ``X-Error-Code`` (a Hub or proxy failing:
403, 404, 500, ...); ``{"ORG/REPO": {"status": STATUS, "files_only": true}}`` fails only
the downloads of files other than ``manifest.json``. Tests write and delete the file while
the server runs.

Limitations, on purpose: no LFS and no Xet (preupload answers ``regular`` for every
file, so files travel base64 inside the commit and downloads are plain GETs whose
responses carry no ``X-Xet-Hash``); one token, whose holder (user ``aezoo-test``)
owns and may read every repo; a repo is private (401 ``RepoNotFound`` without the
token, like the Hub) or gated (metadata public, file downloads 401 ``GatedRepo``
without the token). Errors carry the Hub's ``X-Error-Code``/``X-Error-Message``
headers, which is what huggingface_hub maps to its exception types. Repos, commits
and blobs live under ``--root`` (``state.json`` and ``blobs/``), so a restarted
server keeps them; every request line is appended to ``requests.log`` there.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

USER = "aezoo-test"
REF_TABLES = ("branches", "tags")


class ApiError(Exception):
    """An HTTP error answer: status, X-Error-Message, X-Error-Code, extra JSON body fields."""

    def __init__(self, status: int, message: str, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, message, code, extra


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Store:
    """Repos as JSON (branches, tags, PRs, commits with their file -> blob maps) + blobs."""

    def __init__(self, root: Path) -> None:
        self.root, self.lock = root, threading.RLock()
        (root / "blobs").mkdir(parents=True, exist_ok=True)
        state = root / "state.json"
        self.repos: dict[str, dict[str, Any]] = (
            json.loads(state.read_text()) if state.is_file() else {}
        )

    def save(self) -> None:
        tmp = self.root / "state.json.tmp"
        tmp.write_text(json.dumps(self.repos))
        tmp.replace(self.root / "state.json")

    def blob(self, oid: str) -> bytes:
        return (self.root / "blobs" / oid).read_bytes()

    def put_blob(self, data: bytes) -> str:
        oid = git_blob_sha1(data)
        (self.root / "blobs" / oid).write_bytes(data)
        return oid

    def commit(self, repo: dict[str, Any], parent: str | None, title: str, files: dict) -> str:
        body = json.dumps([parent, title, files, len(repo["commits"])], sort_keys=True)
        sha = hashlib.sha1(body.encode()).hexdigest()
        date = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        repo["commits"][sha] = {"parent": parent, "title": title, "files": files, "date": date}
        return sha

    def resolve(self, repo: dict[str, Any], rev: str) -> str:
        """A branch, tag, ``refs/heads|tags|pr/...`` or (abbreviated, >= 7) commit sha."""
        for prefix, table in (
            ("refs/heads/", "branches"),
            ("refs/tags/", "tags"),
            ("refs/pr/", "prs"),
        ):
            name = rev.removeprefix(prefix)
            if (name != rev or table != "prs") and name in repo[table]:
                return repo[table][name]
        matches = [c for c in repo["commits"] if len(rev) >= 7 and c.startswith(rev)]
        if len(matches) == 1:
            return matches[0]
        raise ApiError(404, f"Invalid rev id: {rev}", "RevisionNotFound")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    store: Store
    token: str

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing ---------------------------------------------------------------
    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data: Any, status: int = 200) -> None:
        self._send(status, json.dumps(data).encode(), {"Content-Type": "application/json"})

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _authed(self) -> bool:
        auth = self.headers.get("Authorization")
        if auth is None:
            return False
        if auth != f"Bearer {self.token}":
            raise ApiError(401, "Invalid credentials in Authorization header")
        return True

    def _dispatch(self) -> None:
        with self.store.lock, open(self.store.root / "requests.log", "a") as log:
            log.write(f"{self.command} {self.path}\n")  # lets tests prove "no network"
        url = urlsplit(self.path)
        parts, query = [unquote(p) for p in url.path.strip("/").split("/")], parse_qs(url.query)
        try:
            with self.store.lock:
                self._inject_fault(parts)
                self._route(self.command, parts, query)
        except ApiError as e:
            headers = {"Content-Type": "application/json", "X-Error-Message": e.message}
            if e.code:
                headers["X-Error-Code"] = e.code
            self._send(e.status, json.dumps({"error": e.message, **e.extra}).encode(), headers)

    do_GET = do_HEAD = do_POST = do_PUT = _dispatch

    def _inject_fault(self, parts: list[str]) -> None:
        """Answer ``faults.json``'s status for requests about a repo listed there
        (``{"org/name": 500}``): a Hub (or a proxy before it) failing, with no error code."""
        faults_file = self.store.root / "faults.json"
        if not faults_file.is_file():
            return
        faults = json.loads(faults_file.read_text())
        repo_id = "/".join(parts[2:4]) if parts[:2] == ["api", "models"] else "/".join(parts[:2])
        fault = faults.get(repo_id)
        if isinstance(fault, dict):  # {"status": N, "files_only": true}: file downloads only
            is_file = len(parts) >= 5 and parts[2] == "resolve" and parts[-1] != "manifest.json"
            fault = fault["status"] if is_file or not fault.get("files_only") else None
        if fault is not None:
            raise ApiError(int(fault), f"fake hub: injected HTTP {fault} for {repo_id}")

    def _repo(self, repo_id: str, *, write: bool = False, download: bool = False) -> dict:
        authed = self._authed()
        if write and not authed:
            raise ApiError(401, "You must be authenticated to write to a repo")
        repo = self.store.repos.get(repo_id)
        if repo is None or (repo["private"] and not authed):
            raise ApiError(404 if authed else 401, "Repository not found", "RepoNotFound")
        if download and repo["gated"] and not authed:
            raise ApiError(401, f"Access to model {repo_id} is restricted.", "GatedRepo")
        return repo

    # -- routes -------------------------------------------------------------------
    def _route(self, method: str, parts: list[str], query: dict[str, list[str]]) -> None:
        if method == "POST" and parts == ["api", "repos", "create"]:
            return self._create_repo(json.loads(self._body()))
        if method == "POST" and parts == ["api", "validate-yaml"]:
            return self._validate_yaml(json.loads(self._body()))
        if len(parts) >= 4 and parts[:2] == ["api", "models"]:
            repo_id, rest = "/".join(parts[2:4]), parts[4:]
            return self._api(method, repo_id, rest, query)
        if len(parts) >= 5 and parts[2] == "resolve" and method in ("GET", "HEAD"):
            return self._resolve(f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:]))
        raise ApiError(404, f"fake hub: no route for {method} /{'/'.join(parts)}")

    def _create_repo(self, payload: dict) -> None:
        if not self._authed():
            raise ApiError(401, "You must be authenticated to create a repo")
        repo_id = f"{payload.get('organization') or USER}/{payload['name']}"
        if repo_id in self.store.repos:  # the Hub's 409 carries the url too
            url = f"{self._base()}/{repo_id}"
            raise ApiError(409, "You already created this model repo", url=url)
        repo = {"private": payload.get("visibility") == "private", "gated": False}
        repo.update(branches={}, tags={}, prs={}, commits={})
        attributes = self.store.put_blob(b"*.onnx filter=lfs diff=lfs merge=lfs -text\n")
        repo["branches"]["main"] = self.store.commit(
            repo, None, "initial commit", {".gitattributes": attributes}
        )
        self.store.repos[repo_id] = repo
        self.store.save()
        self._json({"url": f"{self._base()}/{repo_id}", "name": repo_id})

    def _validate_yaml(self, payload: dict) -> None:
        match = re.match(r"^---\n(.*?)\n---", payload.get("content", ""), re.S)
        try:
            meta = yaml.safe_load(match.group(1)) if match else {}
        except yaml.YAMLError as e:
            meta = str(e).replace("\n", " ")
        if not isinstance(meta, dict):
            return self._json({"errors": [{"message": f"invalid YAML: {meta}"}]}, 400)
        self._json({"errors": [], "warnings": []})

    def _api(self, method: str, repo_id: str, rest: list[str], query: dict) -> None:
        write = method in ("POST", "PUT")
        repo = self._repo(repo_id, write=write)
        # each quoted revision is one path segment; a tree path may span several
        kind, arg, *tail = [*rest, "", ""][: max(2, len(rest))]
        path = "/".join(tail)
        if method == "GET" and kind in ("", "revision"):
            return self._info(repo_id, repo, arg or "main")
        if method == "GET" and kind == "tree":
            return self._tree(repo, arg, path, query)
        if method == "GET" and kind == "refs":
            refs = {t: [self._ref(t, n, sha) for n, sha in repo[t].items()] for t in REF_TABLES}
            return self._json({**refs, "converts": []})
        if method == "GET" and kind == "commits":
            return self._commits(repo, self.store.resolve(repo, arg))
        if method == "PUT" and kind == "settings":  # only "gated" is implemented
            repo["gated"] = json.loads(self._body()).get("gated", repo["gated"])
            self.store.save()
            return self._json({})
        if method == "POST" and kind == "preupload":  # "regular" for all: no LFS, no Xet
            files = repo["commits"][self.store.resolve(repo, arg)]["files"]
            paths = [f["path"] for f in json.loads(self._body())["files"]]
            modes = [{"path": p, "uploadMode": "regular", "shouldIgnore": False} for p in paths]
            return self._json({"files": [{**m, "oid": files.get(m["path"])} for m in modes]})
        if method == "POST" and kind == "commit":
            return self._commit(repo_id, repo, arg, query.get("create_pr") == ["1"])
        if method == "POST" and kind == "branch":
            start = json.loads(self._body() or b"{}").get("startingPoint") or "main"
            return self._new_ref(repo, "branches", arg, self.store.resolve(repo, start))
        if method == "POST" and kind == "tag":
            tag = json.loads(self._body())["tag"]
            return self._new_ref(repo, "tags", tag, self.store.resolve(repo, arg or "main"))
        raise ApiError(404, f"fake hub: no route for {method} {kind!r} on {repo_id}")

    def _info(self, repo_id: str, repo: dict, rev: str) -> None:
        sha = self.store.resolve(repo, rev)
        siblings = [{"rfilename": p} for p in sorted(repo["commits"][sha]["files"])]
        info = {"id": repo_id, "sha": sha, "private": repo["private"], "gated": repo["gated"]}
        self._json({**info, "siblings": siblings})

    def _tree(self, repo: dict, rev: str, path: str, query: dict) -> None:
        if path or query.get("recursive", [""])[0].lower() != "true":
            raise ApiError(400, "fake hub: only the recursive listing of the whole repo")
        files = repo["commits"][self.store.resolve(repo, rev)]["files"]
        size = {p: (self.store.root / "blobs" / oid).stat().st_size for p, oid in files.items()}
        self._json(
            [{"type": "file", "oid": files[p], "size": size[p], "path": p} for p in sorted(files)]
        )

    def _commits(self, repo: dict, sha: str | None) -> None:
        history = []
        while sha is not None:
            c = repo["commits"][sha]
            entry = {"id": sha, "date": c["date"], "title": c["title"], "message": ""}
            history.append({**entry, "authors": [{"user": USER}]})
            sha = c["parent"]
        self._json(history)

    def _commit(self, repo_id: str, repo: dict, rev: str, create_pr: bool) -> None:
        parent = self.store.resolve(repo, rev)
        if not create_pr and rev not in repo["branches"]:
            raise ApiError(400, f"Cannot commit to {rev}: not a branch")
        files, title = dict(repo["commits"][parent]["files"]), ""
        for line in self._body().splitlines():
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                title = value["summary"]
                if value.get("parentCommit") not in (None, parent):
                    raise ApiError(412, "Parent commit is not the head of the branch")
            elif key == "file":
                files[value["path"]] = self.store.put_blob(base64.b64decode(value["content"]))
            elif key == "deletedFile":
                files.pop(value["path"], None)
            else:
                raise ApiError(400, f"fake hub: {key!r} is not supported (no LFS, no Xet)")
        sha = self.store.commit(repo, parent, title, files)
        pr_url = None
        if create_pr:
            number = str(len(repo["prs"]) + 1)
            repo["prs"][number] = sha
            pr_url = f"{self._base()}/{repo_id}/discussions/{number}"
        else:
            repo["branches"][rev] = sha
        self.store.save()
        commit_url = f"{self._base()}/{repo_id}/commit/{sha}"
        self._json(
            {"success": True, "commitOid": sha, "commitUrl": commit_url, "pullRequestUrl": pr_url}
        )

    def _new_ref(self, repo: dict, table: str, name: str, sha: str) -> None:
        if name in repo[table]:
            raise ApiError(409, f"{table[:-1].capitalize()} {name} already exists")
        repo[table][name] = sha
        self.store.save()
        self._json({})

    def _resolve(self, repo_id: str, rev: str, path: str) -> None:
        repo = self._repo(repo_id, download=True)
        sha = self.store.resolve(repo, rev)
        oid = repo["commits"][sha]["files"].get(path)
        if oid is None:
            self._send(404, b"", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": sha})
            return
        self._send(200, self.store.blob(oid), {"X-Repo-Commit": sha, "ETag": f'"{oid}"'})

    # -- helpers ------------------------------------------------------------------
    def _base(self) -> str:
        return f"http://{self.headers.get('Host')}"

    @staticmethod
    def _ref(table: str, name: str, sha: str) -> dict:
        kind = "heads" if table == "branches" else "tags"
        return {"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": sha}


def serve(root: Path, token: str, port: int = 0) -> ThreadingHTTPServer:
    """A bound (not yet serving) server on 127.0.0.1; ``port=0`` picks a free port."""
    handler = type("BoundHandler", (Handler,), {"store": Store(root), "token": token})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    return server


def main() -> None:
    p = argparse.ArgumentParser(description="Fake Hugging Face Hub for tests (loopback only).")
    p.add_argument("--root", required=True, type=Path, help="directory holding repos and blobs")
    p.add_argument("--token", required=True, help="the one accepted bearer token")
    p.add_argument("--port", type=int, default=0, help="TCP port (0 = any free port)")
    args = p.parse_args()
    server = serve(args.root, args.token, args.port)
    print(f"fake-hub listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
