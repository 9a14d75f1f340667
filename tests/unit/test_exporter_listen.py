"""`--listen` parsing: what binds where, and one clear error for everything else."""

from __future__ import annotations

import socket

import pytest

from ctrlens.errors import UsageError
from ctrlens.exporter.listen import DEFAULT_LISTEN, parse_listen


def test_default_is_ipv4_loopback():
    address = parse_listen(DEFAULT_LISTEN)
    assert (address.host, address.port, address.loopback) == ("127.0.0.1", 9648, True)
    assert address.family == socket.AF_INET


@pytest.mark.parametrize(
    "text, host, port, loopback",
    [
        ("127.0.0.1:9100", "127.0.0.1", 9100, True),
        ("127.0.0.53:9100", "127.0.0.53", 9100, True),
        ("localhost:9100", "localhost", 9100, True),
        ("[::1]:9100", "::1", 9100, True),
        ("0.0.0.0:9648", "0.0.0.0", 9648, False),
        (":9648", "", 9648, False),
        ("[::]:9648", "::", 9648, False),
        ("10.1.2.3:9648", "10.1.2.3", 9648, False),
    ],
)
def test_accepted_addresses(text, host, port, loopback):
    address = parse_listen(text)
    assert (address.host, address.port, address.loopback) == (host, port, loopback)


def test_ipv6_address_family_and_display():
    address = parse_listen("[::1]:9100")
    assert address.family == socket.AF_INET6
    assert str(address) == "[::1]:9100"
    assert str(parse_listen(":9100")) == "0.0.0.0:9100"


@pytest.mark.parametrize(
    "text",
    [
        "9648",
        "localhost",
        "::1:9648",
        "[::1]9648",
        "127.0.0.1:",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:http",
        "host.example:9648",
        "256.1.1.1:80",
    ],
)
def test_rejected_addresses_are_usage_errors(text):
    with pytest.raises(UsageError) as err:
        parse_listen(text)
    assert "--listen" in str(err.value) and "\n" not in str(err.value)
