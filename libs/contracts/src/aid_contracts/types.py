"""Value types shared by the contract and the services: codes validated against ISO data, not hand lists."""

from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import iso4217
import pycountry
from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, WithJsonSchema


def _country(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. SY, YE, SD, LB, AF)")
    return code


def _currency(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. USD, KWD, QAR)")
    return code


def currency_exponent(code: str) -> int:
    """Decimal places of the currency's minor unit (USD 2, KWD 3, JPY 0), from ISO 4217 data."""
    try:
        exponent = iso4217.Currency[code.lower()].exponent
    except KeyError:
        exponent = None
    return 2 if exponent is None else exponent


def _no_float(value: object) -> object:
    # A JSON number with a fraction arrives as a binary float: most clients already rounded it (0.1 is not 0.1),
    # so it is refused rather than guessed at. Whole numbers are exact and accepted.
    if isinstance(value, float):
        raise ValueError(f'give money and rates as decimal strings, e.g. "{value!r}", not as a JSON number')
    return value


def in_currency(amount: Decimal, currency: str) -> Decimal:
    """`amount` rendered with its currency's number of decimals (USD 2, KWD 3, JPY 0) — on every route, event
    and message, whatever places the input or the column had."""
    return amount.quantize(Decimal(1).scaleb(-currency_exponent(currency)))


def to_utc(value: dt.datetime) -> dt.datetime:
    """An aware moment in UTC; a naive one, or one that cannot be expressed in UTC (year 1 with an offset), is
    refused with a clear message instead of failing later."""
    if value.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2024-05-01T00:00:00Z")
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is out of range") from None


# An aware moment, stored and compared in UTC.
Moment = Annotated[dt.datetime, AfterValidator(to_utc)]
DECIMAL_PATTERN = r"^-?\d+(\.\d+)?$"
CountryCode = Annotated[str, AfterValidator(_country), Field(examples=["SY"])]
CurrencyCode = Annotated[str, AfterValidator(_currency), Field(examples=["KWD"])]
# Money travels as a decimal string ("1250000.00"); finite, never a float. The schema (OpenAPI, AsyncAPI) says
# string with a decimal pattern, which is what every answer and event carries.
Money = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(allow_inf_nan=False, max_digits=20, examples=["1250000.00"]),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN, "examples": ["1250000.00"]}),
]
Rate = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(gt=0, allow_inf_nan=False, max_digits=24, decimal_places=10, examples=["3.2500000000"]),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN, "examples": ["3.2500000000"]}),
]
# A ratio such as coverage (funded / requirements) to four places: "0.5000".
Ratio = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(allow_inf_nan=False, examples=["0.5000"]),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN, "examples": ["0.5000"]}),
]


class Sector(StrEnum):
    """Humanitarian clusters and areas of responsibility, as used for earmarks and projects."""

    HEALTH = "health"
    EDUCATION = "education"
    SHELTER = "shelter"
    PROTECTION = "protection"
    FOOD_SECURITY = "food-security"
    NUTRITION = "nutrition"
    WASH = "wash"
    LIVELIHOODS = "livelihoods"
    EARLY_RECOVERY = "early-recovery"
    CASH = "cash"
    PSYCHOSOCIAL = "psychosocial"
    COUNTER_TRAFFICKING = "counter-trafficking"
    CAMP_MANAGEMENT = "camp-management"
    LOGISTICS = "logistics"
    EMERGENCY_TELECOMMUNICATIONS = "emergency-telecommunications"
    COORDINATION = "coordination"
    MULTI_SECTOR = "multi-sector"


# Characters that reorder what a reader sees (bidi embeddings, overrides, isolates: "\u202egnp.exe" shows as
# "exe.png") and characters that show nothing. Arabic text needs neither; the marks U+200E/U+200F (and U+061C)
# stay allowed inside text, but a text made only of them is blank.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u061c")


def not_a_character(ch: str) -> bool:
    """A code point no text may hold, and that XML 1.0 cannot carry: a lone surrogate, or a noncharacter
    (U+FDD0–U+FDEF, U+xxFFFE, U+xxFFFF). lxml refuses them, so one such title would break an IATI export."""
    code = ord(ch)
    return 0xD800 <= code <= 0xDFFF or 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def clean_text(value: str) -> str:
    """Text a person will read: no control characters (NUL included), no bidi overrides, no lone surrogates or
    noncharacters, not blank or made only of invisible characters. Kept exactly as given otherwise (Arabic,
    emoji)."""
    for ch in value:
        if ch in _BIDI_CONTROLS:
            raise ValueError(f"contains the bidi control U+{ord(ch):04X}, which hides what the text says")
        if unicodedata.category(ch) == "Cc" and ch not in "\n\t":
            raise ValueError(f"contains the control character U+{ord(ch):04X}")
        if not_a_character(ch):
            raise ValueError(f"contains U+{ord(ch):04X}, which is not a character (nor allowed in XML)")
    if not "".join(ch for ch in value if ch not in _INVISIBLE).strip():
        raise ValueError("is blank (only spaces or invisible characters)")
    return value


# Names, titles, references, reasons: see clean_text.
CleanText = Annotated[str, AfterValidator(clean_text)]


def _names(value: dict[str, str]) -> dict[str, str]:
    for lang, name in value.items():
        if pycountry.languages.get(alpha_2=lang.split("-")[0].lower()) is None:
            raise ValueError(f"{lang!r} is not an ISO 639-1 language code (e.g. ar, fr)")
        try:
            clean_text(name)
        except ValueError as exc:
            raise ValueError(f"the {lang} name {exc}") from None
    return value


# Names in other languages, e.g. {"ar": "جمعية الهلال الأحمر الكويتي"}; kept exactly as given.
Names = Annotated[dict[str, Annotated[str, Field(max_length=300)]], AfterValidator(_names)]
