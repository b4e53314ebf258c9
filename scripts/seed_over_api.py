#!/usr/bin/env python3
"""Seeds any Meet-compatible backend (the original or meet) through its public API, the way the
load kit expects (../shared/bench/README.md): two users logged in through the OpenID Connect
provider of ../shared/idp, an owner of 52 rooms among them the public `perf-public` and the
restricted `perf-restricted`, and a CSRF value. Prints OWNER_SESSION, CREATOR_SESSION and
CSRF_TOKEN as shell assignments.

    scripts/seed_over_api.py http://127.0.0.1:8171 [owner-user creator-user]

Stdlib only. The provider must honour its login form (it does by default)."""

import http.cookiejar
import json
import re
import secrets
import string
import sys
import urllib.error
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def opener(jar):
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())


def fetch(op, url, data=None, headers=None, method=None):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        resp = op.open(req, timeout=30)
        return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def login(base, user):
    """Follows the authorization code flow by hand; returns the backend's session cookie."""
    # The backend's cookies are `Secure` (TLS ends at a proxy in production): send them over
    # plain HTTP here anyway.
    jar = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(secure_protocols=("https", "http")))
    op = opener(jar)
    url = f"{base}/api/v1.0/authenticate/"
    for _ in range(20):
        status, headers, body = fetch(op, url)
        if status in (301, 302, 303, 307, 308):
            url = urllib.parse.urljoin(url, headers["Location"])
            continue
        if status == 200 and "/interaction/" in url:
            uid = re.search(r"/interaction/([^/?#]+)", url).group(1)
            form = urllib.parse.urlencode({"user": user}).encode()
            status, headers, body = fetch(
                op,
                urllib.parse.urljoin(url, f"/interaction/{uid}/login"),
                data=form,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            if status not in (302, 303):
                raise SystemExit(f"login form for {user}: {status} {body[:200]!r}")
            url = urllib.parse.urljoin(url, headers["Location"])
            continue
        break
    for c in jar:
        if c.name == "sessionid" and base.split("//")[1].split(":")[0] in c.domain:
            return c.value
    raise SystemExit(f"no session for {user} (last {status} at {url}: {body[:200]!r})")


def api(base, session, csrf, method, path, payload=None):
    op = opener(http.cookiejar.CookieJar())
    headers = {
        "Cookie": f"sessionid={session}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
        "Content-Type": "application/json",
        "Origin": base,
        "Referer": base + "/",
    }
    data = None if payload is None else json.dumps(payload).encode()
    status, _, body = fetch(op, base + path, data=data, headers=headers, method=method)
    if status >= 300:
        raise SystemExit(f"{method} {path}: {status} {body[:300]!r}")
    return json.loads(body or b"null")


def main():
    base = sys.argv[1].rstrip("/")
    owner_name = sys.argv[2] if len(sys.argv) > 2 else "alice"
    creator_name = sys.argv[3] if len(sys.argv) > 3 else "bob"
    csrf = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    owner = login(base, owner_name)
    creator = login(base, creator_name)
    names = ["perf-public", "perf-restricted"] + [f"perf-room-{i:02}" for i in range(1, 51)]
    for name in names:
        room = api(base, owner, csrf, "POST", "/api/v1.0/rooms/", {"name": name})
        level = "restricted" if name == "perf-restricted" else "public"
        if room.get("access_level") != level:
            api(base, owner, csrf, "PATCH", f"/api/v1.0/rooms/{room['id']}/", {"access_level": level})
    print(f"OWNER_SESSION={owner}")
    print(f"CREATOR_SESSION={creator}")
    print(f"CSRF_TOKEN={csrf}")


if __name__ == "__main__":
    main()
