"""Loaded by the app under test (PYTHONPATH): record and refuse any non-loopback connection.

Every attempt to reach another host (a connect or a DNS lookup of a
non-local name) is appended to $SSL_LAB_NETLOG and refused with OSError.
"""
import os
import socket

_LOG = os.environ.get("SSL_LAB_NETLOG")
_LOCAL = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "", None}


def _is_local(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    return host in _LOCAL or (isinstance(host, str) and (host.startswith("127.") or host.endswith(".localhost")))


def _record(what, host):
    if _LOG:
        with open(_LOG, "a") as f:
            f.write(f"{what} {host}\n")


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
        _record("connect", address[0])
        raise OSError(f"outbound connection to {address[0]} refused by the test")
    return _connect(self, address)


def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
        _record("connect", address[0])
        return 111
    return _connect_ex(self, address)


def getaddrinfo(host, *args, **kwargs):
    if not _is_local(host):
        _record("resolve", host)
        raise socket.gaierror(f"lookup of {host} refused by the test")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
socket.getaddrinfo = getaddrinfo
