"""`HttpTransport`: the standard library's HTTP client, as the uploader uses it.

TLS is verified against the operating system's trust store (truststore: the Windows certificate
store, the macOS keychain, the system's CA files on Linux), so a company's own CA installed by IT
is trusted; a CA bundle file given as ``ca_bundle`` is used instead. Proxy settings come from the
environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) and, where none is set, from the system (urllib
reads the Windows Internet settings and the macOS network configuration); every connect and read is
bounded by a timeout; no cookies and no identifying headers are sent; redirects are never
followed (urllib would turn the POST into a bodiless GET, and a captive portal's 302 → 200 would
look like success), so a 3xx comes back as it is and the uploader tries again later.
This module is imported only when the first upload is prepared, on the worker thread.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Final

from ._transport import Response, parse_retry_after

USER_AGENT: Final = "optin"  # deliberately no version, platform or app name


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # urllib then raises HTTPError carrying the 3xx status


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Certificates verified by the operating system's trust store, or by ``ca_bundle`` when given."""
    if ca_bundle:
        return ssl.create_default_context(cafile=ca_bundle)
    import truststore

    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class HttpTransport:
    def __init__(self, ca_bundle: str | None = None) -> None:
        self.context = tls_context(ca_bundle)
        self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=self.context), _NoRedirect())
        self._opener.addheaders = [("User-Agent", USER_AGENT)]

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> Response:
        request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
        try:
            with self._opener.open(request, timeout=timeout_s) as answer:
                answer.read()
                return Response(answer.status, parse_retry_after(answer.headers.get("Retry-After")))
        except urllib.error.HTTPError as error:
            with error:
                return Response(error.code, parse_retry_after(error.headers.get("Retry-After")))
        except urllib.error.URLError as error:
            reason = error.reason
            raise reason if isinstance(reason, OSError) else OSError(str(reason)) from None
