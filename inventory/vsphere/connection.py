"""Open and close a vCenter (or ESXi) API session, turning every way it can fail into one readable error.

``open_session`` is the only door to a ``ServiceInstance``: it checks first that
the endpoint answers like a vSphere API (a plain ``GET /sdk/vimServiceVersions.xml``
with a timeout, which pyvmomi's own probe lacks), then logs in with pyvmomi's
``SmartConnect`` and always logs out on exit. A failure, before or during the
session, reaches the caller as :class:`VSphereError` with a message naming
``host:port`` and what to do; the password never appears in a message or a log.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import logging
import socket
import ssl
from collections.abc import Iterator
from xml.etree import ElementTree

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

logger = logging.getLogger(__name__)

SDK_PATH = "/sdk"
VERSIONS_PATH = f"{SDK_PATH}/vimServiceVersions.xml"
# pyvmomi keeps idle HTTP connections for reuse; vCenter's reverse proxy drops
# idle keep-alive connections after about a minute, and reusing a dropped one
# fails the next call. Close them on our side well before that.
POOL_IDLE_SECONDS = 30
# The version document is a few kilobytes; never read an arbitrary body whole.
PROBE_MAX_BYTES = 1024 * 1024


class VSphereError(Exception):
    """vCenter could not be reached, refused us or answered nonsense; ``str()`` says why, for a person."""


@contextlib.contextmanager
def open_session(
    *,
    host: str,
    port: int,
    user: str,
    password: str,
    use_http: bool = False,
    verify_tls: bool = True,
    timeout: float = 60,
) -> Iterator[vim.ServiceInstance]:
    """Yield a logged-in pyvmomi ``ServiceInstance`` for ``host:port``; log out on exit.

    ``use_http`` is for a lab or the simulator only; ``verify_tls=False``
    accepts any certificate (a lab with a self-signed vCenter). ``timeout``
    bounds connecting and every socket read, in seconds.
    """
    where = f"{host}:{port}"
    context = None if use_http else _ssl_context(verify_tls)
    logger.info("vSphere: connecting to %s://%s as %s", "http" if use_http else "https", where, user)
    _probe(host=host, port=port, use_http=use_http, context=context, timeout=timeout)
    try:
        si = SmartConnect(
            protocol="http" if use_http else "https",
            host=host,
            port=port,
            user=user,
            pwd=password,
            path=SDK_PATH,
            sslContext=context,
            disableSslCertValidation=not verify_tls,
            httpConnectionTimeout=timeout,
            connectionPoolTimeout=POOL_IDLE_SECONDS,
        )
    except vim.fault.InvalidLogin as exc:
        raise VSphereError(f"{where} refused the login of user {user!r}: wrong user name or password") from exc
    except Exception as exc:
        raise VSphereError(describe_failure(exc, where=where, timeout=timeout, during="logging in to")) from exc
    try:
        yield si
    except (OSError, http.client.HTTPException, vim.fault.NotAuthenticated) as exc:
        raise VSphereError(describe_failure(exc, where=where, timeout=timeout, during="talking to")) from exc
    finally:
        with contextlib.suppress(Exception):  # the server may be gone; logging out is best effort
            Disconnect(si)
        logger.info("vSphere: disconnected from %s", where)


def vcenter_about(
    *,
    host: str,
    port: int,
    user: str,
    password: str,
    use_http: bool = False,
    verify_tls: bool = True,
    timeout: float = 60,
) -> str:
    """Log in and out again, and return what the endpoint says it is (``about.fullName``, e.g.
    "VMware vCenter Server 8.0.2 build-22617221"): the "Test connection" of a source's form.

    Every failure is a :class:`VSphereError` whose message never contains the password, even
    where a server or a library would have echoed it back.
    """
    where = f"{host}:{port}"
    try:
        with open_session(host=host, port=port, user=user, password=password, use_http=use_http,
                          verify_tls=verify_tls, timeout=timeout) as si:
            try:
                return str(si.RetrieveContent().about.fullName)
            except vmodl.MethodFault as exc:
                raise VSphereError(describe_failure(exc, where=where, timeout=timeout, during="talking to")) from exc
    except VSphereError as error:
        message = str(error).replace(password, "[password]") if password else str(error)
        raise VSphereError(message) from None


def _ssl_context(verify_tls: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _probe(*, host: str, port: int, use_http: bool, context: ssl.SSLContext | None, timeout: float) -> None:
    """Fail fast, with a clear message, unless ``host:port`` serves the vSphere API version document."""
    where = f"{host}:{port}"
    if use_http:
        conn: http.client.HTTPConnection = http.client.HTTPConnection(host, port, timeout=timeout)
    else:
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    try:
        conn.request("GET", VERSIONS_PATH)
        response = conn.getresponse()
        status, reason = response.status, response.reason
        body = response.read(PROBE_MAX_BYTES)
    except Exception as exc:
        raise VSphereError(describe_failure(exc, where=where, timeout=timeout, during="connecting to")) from exc
    finally:
        conn.close()
    if status != 200:
        raise VSphereError(
            f"{where} answered HTTP {status} {reason} for {VERSIONS_PATH}: not a vSphere API endpoint "
            "(check the host name and port)"
        )
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 (a bounded document; only its root tag is read)
    except ElementTree.ParseError as exc:
        raise VSphereError(
            f"{where} answered {VERSIONS_PATH} with something that is not XML: not a vSphere API endpoint"
        ) from exc
    if root.tag != "namespaces":
        raise VSphereError(f"{where} answered {VERSIONS_PATH} with <{root.tag}>: not a vSphere API endpoint")


def describe_failure(exc: BaseException, *, where: str, timeout: float, during: str = "connecting to") -> str:
    """A sentence for a person about why talking to ``where`` failed."""
    if isinstance(exc, vim.fault.InvalidLogin):
        return f"{where} refused the login: wrong user name or password"
    if isinstance(exc, vim.fault.NotAuthenticated):
        return f"{where} ended the session (not authenticated any more); run the scan again"
    if isinstance(exc, vim.fault.HostConnectFault) and exc.msg:
        # pyvmomi wraps errors of its first call (RetrieveContent) in HostConnectFault(msg=str(error)).
        return f"{during} {where} failed: {exc.msg}"
    if isinstance(exc, vmodl.MethodFault):
        return f"{where} answered with a {type(exc).__name__.rsplit('.', 1)[-1]} fault: {exc.msg or exc}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"the TLS certificate of {where} could not be verified ({exc.verify_message}): install the "
            "certificate of the CA that signed it on this server (or fix the host name to match the "
            "certificate); turn off verification (--insecure) only for a lab"
        )
    if isinstance(exc, ssl.SSLError):
        reason = (exc.reason or str(exc)).upper()
        if any(s in reason for s in ("WRONG_VERSION_NUMBER", "RECORD_LAYER", "UNKNOWN_PROTOCOL", "PACKET_LENGTH")):
            return (
                f"{where} does not speak TLS (HTTPS) on that port ({exc.reason}): check the port, "
                "or use plain HTTP only if this is a lab or a simulator"
            )
        return f"TLS handshake with {where} failed ({exc.reason or exc})"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name of {where} ({exc.strerror}): check the host name and DNS"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection to {where} refused: nothing listens on that port (check the host, the port and firewalls)"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"{during} {where} timed out after {timeout:g} s: the host is unreachable or too slow"
    if isinstance(exc, ConnectionResetError | http.client.RemoteDisconnected | BrokenPipeError):
        return f"{where} closed the connection while {during} it: not a vSphere API endpoint, or a proxy in between"
    if isinstance(exc, http.client.HTTPException):
        return f"{where} did not answer like an HTTP server ({type(exc).__name__}): not a vSphere API endpoint"
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
        return f"{where} is unreachable ({exc.strerror}): check the host, routes and firewalls"
    if isinstance(exc, OSError):
        return f"{during} {where} failed: {exc.strerror or exc}"
    return f"{during} {where} failed: {exc}"

