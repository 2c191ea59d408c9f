from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transforms.lib.netpolicy import ConnectTo, address_refusal, resolve


@pytest.mark.parametrize("address, why", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.10", "private"),
    ("172.16.5.4", "private"), ("169.254.169.254", "metadata"), ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"), ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"),
    ("::ffff:127.0.0.1", "loopback"), ("100.64.0.1", "non-global"), ("240.0.0.1", "reserved"),
    ("fd00::1", "private"),
])
def test_non_public_addresses_are_refused(address, why):
    refusal = address_refusal(address, allow_private_networks=False)
    assert refusal is not None and why in refusal


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert address_refusal(address, allow_private_networks=False) is None


def test_allow_private_networks_opens_private_but_never_metadata():
    assert address_refusal("127.0.0.1", allow_private_networks=True) is None
    assert address_refusal("10.0.0.1", allow_private_networks=True) is None
    assert address_refusal("169.254.169.254", allow_private_networks=True) == "cloud metadata address"


@given(st.ip_addresses())
def test_every_address_outside_global_unicast_is_refused(ip):
    refusal = address_refusal(str(ip), allow_private_networks=False)
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
    special = (mapped.is_multicast or mapped.is_reserved or mapped.is_private or mapped.is_loopback
               or mapped.is_link_local or mapped.is_unspecified)
    if not mapped.is_global or special:
        assert refusal is not None
    else:
        assert refusal is None


def test_connect_to_rewrites_the_target_only():
    rules = (ConnectTo.parse("www.site.example:80:127.0.0.1:8123"),)
    assert resolve("www.site.example", 80, rules) == [("127.0.0.1", 8123)]
    assert resolve("127.0.0.1", 80, rules) == [("127.0.0.1", 80)]
    with pytest.raises(ValueError):
        ConnectTo.parse("missing-parts")
