"""The signature every caller computes: known answers (from `openssl dgst -sha256 -hmac`)."""
from hypothesis import given, strategies as st

from chalicelib.auth import signature


def test_known_answer_with_a_body_and_a_query_string():
    # printf 'POST\n/pay?a=1\n1700000000\nn1\n{}\n' | openssl dgst -sha256 -hmac sec
    assert signature.sign("sec", "POST", "/pay?a=1", "1700000000", "n1", b"{}") == \
        "3df13b61ad42749b6ba844109a0308a09434ca6fe3803d84b2850935114e1e95"


def test_known_answer_without_a_body():
    # printf 'GET\n/orders/pay/r1\n1700000000\nabc\n\n' | openssl dgst -sha256 -hmac s3cr3t
    assert signature.sign("s3cr3t", "get", "/orders/pay/r1", "1700000000", "abc", None) == \
        "482827a8ee936934e10e4626ad25ccdef4e9d808d4ea0104386a5855e17bc9f5"


def test_signed_headers_verify_and_name_the_key():
    headers = signature.signed_headers("mch-1", "sec", "POST", "/pay", '{"a":1}', now=1700000000.9)
    assert headers[signature.KEY_ID] == "mch-1"
    assert headers[signature.TIMESTAMP] == "1700000000"
    assert len(headers[signature.NONCE]) == 32
    assert signature.matches("sec", headers[signature.SIGNATURE], "POST", "/pay",
                             "1700000000", headers[signature.NONCE], b'{"a":1}')


@given(body=st.binary(max_size=64), flip=st.integers(min_value=0, max_value=63))
def test_any_changed_body_byte_breaks_the_signature(body, flip):
    good = signature.sign("sec", "POST", "/pay", "1", "n", body)
    tampered = bytearray(body + b"x")
    tampered[flip % len(tampered)] ^= 0x01
    assert not signature.matches("sec", good, "POST", "/pay", "1", "n", bytes(tampered))


def test_a_signature_is_bound_to_method_path_timestamp_and_nonce():
    good = signature.sign("sec", "POST", "/pay", "1", "n", b"{}")
    for changed in (("GET", "/pay", "1", "n"), ("POST", "/withdraw", "1", "n"),
                    ("POST", "/pay", "2", "n"), ("POST", "/pay", "1", "m")):
        assert not signature.matches("sec", good, *changed, b"{}")
    assert not signature.matches("other", good, "POST", "/pay", "1", "n", b"{}")


def test_a_non_ascii_signature_is_refused_not_raised():
    assert not signature.matches("sec", "é" * 64, "POST", "/pay", "1", "n", b"")
