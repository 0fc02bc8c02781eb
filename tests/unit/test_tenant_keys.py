"""Tenant-scoped record keys: no tenant id can name another tenant's records, and a caller
without a tenant reaches none."""
import types

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.errors import ErrorCode, PaySettleError
from chalicelib.tenant_keys import key, tenant_of

TENANTS = st.text(min_size=1, max_size=20)
IDS = st.text(alphabet="0123456789", min_size=1, max_size=8)


def test_the_key_is_the_tenant_then_the_kind_and_ids():
    assert key("demo", "SUBSIDY", "1329128824390000640") == "T#demo#SUBSIDY#1329128824390000640"


@pytest.mark.parametrize("tenant", ["a#SUBSIDY", "a%23", "a#", "#", "%"])
def test_separators_in_a_tenant_are_escaped(tenant):
    made = key(tenant, "SUBSIDY", "1")
    assert made.count("#") == 3 and made.split("#")[1] != "a"


@given(TENANTS, TENANTS, IDS, IDS)
def test_two_tenants_never_share_a_key(first, second, id_one, id_two):
    if first != second:
        assert key(first, "SHARING", id_one) != key(second, "SHARING", id_two)
        assert not key(first, "SHARING", id_one).startswith(key(second, ""))


@pytest.mark.parametrize("tenant", [None, ""])
def test_no_tenant_no_key(tenant):
    with pytest.raises(ValueError):
        key(tenant, "SUBSIDY", "1")


def test_a_caller_without_a_tenant_is_refused():
    with pytest.raises(PaySettleError) as refused:
        tenant_of(types.SimpleNamespace(merchant_id=""))
    assert refused.value.code == ErrorCode.ROLE_NOT_ALLOWED
    assert tenant_of(types.SimpleNamespace(merchant_id="demo")) == "demo"
