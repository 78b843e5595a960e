"""Masking of phone numbers and email addresses for logs, audit and reports
(docs/compliance.md, Personal data)."""


def mask_phone(phone: str | None) -> str:
    """`+14155550123` → `+1******0123`: country prefix and last four digits only."""
    if not phone:
        return ""
    digits = phone.lstrip("+")
    if len(digits) <= 4:
        return "*" * len(digits)
    return f"+{digits[0]}{'*' * (len(digits) - 5)}{digits[-4:]}"


def mask_email(email: str | None) -> str:
    """`jane.doe@example.com` → `j***@example.com`."""
    if not email or "@" not in email:
        return ""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_address(address: str | None) -> str:
    if not address:
        return ""
    return mask_email(address) if "@" in address else mask_phone(address)
