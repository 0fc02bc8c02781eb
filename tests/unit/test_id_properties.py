"""Property tests of the parsers test_fields_properties.py does not cover: the business lines' ids
(pydantic patterns), the recon batch name, and the integer codes (1 or 2). Each against an
independent oracle, on text rich in look-alikes, invisible and control characters."""
import string

from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from chalicelib.recon.formats import valid_batch_name
from chalicelib.schemas import int_choice
from chalicelib.sharing.messages import Account, AmountText
from chalicelib.subsidies.messages import BizId, DigitsId

TRICKY = ("０１９٣¹𝟏" "аеорсхАВЕКМНОРСТХ"            # fullwidth, Arabic-indic, superscript, math digits; Cyrillic
          "\u200b\u200c\u200d\u200e\u200f\u202e\u2066\ufeff\u00a0\u2028"   # invisible, bidi
          "\x00\t\n\r\x0b\x0c\x1b\x7f\x85 ")
text = st.one_of(st.text(alphabet=string.ascii_letters + string.digits + "_.-" + TRICKY, max_size=70),
                 st.text(max_size=70))


def accepts(kind, value) -> bool:
    try:
        TypeAdapter(kind).validate_python(value, strict=True)
    except ValidationError:
        return False
    return True


PRINTABLE_ASCII = {chr(c) for c in range(0x21, 0x7f)}


@settings(max_examples=400, deadline=None)
@given(text)
@example("1\n")
@example("１")
@example("12\u200d3")
def test_digits_ids_are_1_to_32_ascii_digits(value):
    assert accepts(DigitsId, value) == (1 <= len(value) <= 32 and set(value) <= set(string.digits))


@settings(max_examples=400, deadline=None)
@given(text)
@example("a\n")
@example("a b")
@example("\u0430bc")
def test_business_ids_and_accounts_are_printable_ascii_without_spaces(value):
    expected = 1 <= len(value) <= 64 and set(value) <= PRINTABLE_ASCII
    assert accepts(BizId, value) == expected
    assert accepts(Account, value) == expected


@settings(max_examples=300, deadline=None)
@given(st.one_of(text, st.integers(0, 10 ** 13).map(str)))
@example("0")
@example("01")
@example("999999999999")
@example("1000000000000")
def test_amount_text_is_a_canonical_positive_number_of_at_most_12_digits(value):
    expected = (1 <= len(value) <= 12 and set(value) <= set(string.digits) and value[0] != "0")
    assert accepts(AmountText, value) == expected


@settings(max_examples=400, deadline=None)
@given(st.one_of(text, st.text(alphabet="ab.-_9", max_size=140)))
@example("..")
@example("a..b")
@example("a" * 128)
@example("a" * 129)
@example(".a")
def test_batch_names(value):
    allowed = set(string.ascii_letters + string.digits + "._-")
    expected = (1 <= len(value) <= 128 and set(value) <= allowed and value[0] not in "._-"
                and ".." not in value)
    assert valid_batch_name(value) == expected


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.integers(-3, 5), st.booleans(), st.floats(allow_nan=False),
                 st.sampled_from([1.0, 2.0, "1", "2", None, [1], 1 + 0j])))
def test_integer_codes_are_exactly_the_json_integers_listed(value):
    """pydantic's Literal[1, 2] alone would take true, 1.0 and 2.0 (they compare equal)."""
    assert accepts(int_choice(1, 2), value) == (type(value) is int and value in (1, 2))
