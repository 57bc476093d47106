"""What the cloud tests need from a storage emulator that object_store does not do: create
containers and buckets, and create and grow Azure append blobs (diagnostic settings write
those). Signs Azure requests with the emulator's well-known Shared Key, so only the standard
library is needed.

    storage.py azure PORT container NAME
    storage.py azure PORT new-append NAME/BLOB FILE  (a new append blob holding FILE)
    storage.py azure PORT append NAME/BLOB FILE      (FILE appended as one block)
    storage.py s3 PORT bucket NAME
    storage.py s3 PORT put NAME/KEY FILE
    storage.py azure|s3 PORT tree NAME[/PREFIX] FOLDER   (every file below FOLDER, as above)
"""

import base64
import hashlib
import hmac
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from email.utils import formatdate

ACCOUNT = "devstoreaccount1"
KEY = base64.b64decode(
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
VERSION = "2021-08-06"


def azure(port, method, path, query=None, headers=None, body=b""):
    """One Shared Key request to Azurite's blob endpoint: `path` is CONTAINER[/BLOB]."""
    query = query or {}
    headers = dict(headers or {})
    # urllib would add a form content type of its own, unsigned.
    headers["Content-Type"] = "application/octet-stream"
    headers["x-ms-date"] = formatdate(usegmt=True)
    headers["x-ms-version"] = VERSION
    length = str(len(body)) if body else ""
    canonical_headers = "".join(
        f"{k}:{v}\n" for k, v in sorted(headers.items()) if k.startswith("x-ms-")
    )
    canonical_resource = f"/{ACCOUNT}/{ACCOUNT}/{urllib.parse.quote(path)}" + "".join(
        f"\n{k}:{v}" for k, v in sorted(query.items())
    )
    to_sign = "\n".join(
        [method, "", "", length, "", headers.get("Content-Type", ""), "", "", "", "", "", ""]
    )
    to_sign += "\n" + canonical_headers + canonical_resource
    signature = base64.b64encode(
        hmac.new(KEY, to_sign.encode(), hashlib.sha256).digest()
    ).decode()
    headers["Authorization"] = f"SharedKey {ACCOUNT}:{signature}"
    url = f"http://127.0.0.1:{port}/{ACCOUNT}/{urllib.parse.quote(path)}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def main(argv):
    store, port, command = argv[1], int(argv[2]), argv[3]
    if command == "tree":
        name, folder = argv[4], argv[5]
        one = "new-append" if store == "azure" else "put"
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for file in sorted(files):
                path = os.path.join(root, file)
                below = os.path.relpath(path, folder).replace(os.sep, "/")
                main([argv[0], store, str(port), one, f"{name}/{below}", path])
        return
    if store == "azure" and command == "container":
        status = azure(port, "PUT", argv[4], {"restype": "container"})
        ok = status in (201, 409)
    elif store == "azure" and command in ("new-append", "append"):
        blob, data = argv[4], open(argv[5], "rb").read()
        status = 201
        if command == "new-append":
            status = azure(port, "PUT", blob, headers={"x-ms-blob-type": "AppendBlob"})
        # An append block holds at most 4 MiB.
        for start in range(0, len(data), 4 << 20):
            if status != 201:
                break
            block = data[start : start + (4 << 20)]
            status = azure(port, "PUT", blob, {"comp": "appendblock"}, body=block)
        ok = status == 201
    elif store == "s3" and command == "bucket":
        request = urllib.request.Request(f"http://127.0.0.1:{port}/{argv[4]}", method="PUT")
        with urllib.request.urlopen(request) as response:
            status = response.status
        ok = status == 200
    elif store == "s3" and command == "put":
        data = open(argv[5], "rb").read()
        url = f"http://127.0.0.1:{port}/{urllib.parse.quote(argv[4])}"
        # Without a content type of its own, urllib sends a form's, which moto parses away.
        headers = {"Content-Type": "application/octet-stream"}
        request = urllib.request.Request(url, data=data, method="PUT", headers=headers)
        with urllib.request.urlopen(request) as response:
            status = response.status
        ok = status == 200
    else:
        sys.exit(f"unknown command: {argv[1:]}")
    if not ok:
        sys.exit(f"{argv[1:]}: HTTP {status}")


if __name__ == "__main__":
    main(sys.argv)
