"""GS1 identifiers: check digits, SSCC for pallets, GTIN for part types, and their EPC URIs."""

from __future__ import annotations


def check_digit(digits: str) -> str:
    """GS1 mod-10 check digit of a digit string (weights 3,1,3,... from the right)."""
    if not digits.isdigit():
        raise ValueError(f"{digits!r} is not a digit string")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def sscc(company_prefix: str, serial_reference: int, extension: int = 0) -> str:
    """An 18-digit SSCC: extension digit, company prefix, serial reference, check digit."""
    body_length = 16 - len(company_prefix)
    body = f"{extension}{company_prefix}{serial_reference:0{body_length}d}"
    if len(body) != 17:
        raise ValueError("serial reference too long for this company prefix")
    return body + check_digit(body)


def gtin14(company_prefix: str, item_reference: int, indicator: int = 0) -> str:
    body_length = 12 - len(company_prefix)
    body = f"{indicator}{company_prefix}{item_reference:0{body_length}d}"
    if len(body) != 13:
        raise ValueError("item reference too long for this company prefix")
    return body + check_digit(body)


def is_valid(code: str) -> bool:
    return code.isdigit() and len(code) >= 2 and check_digit(code[:-1]) == code[-1]
