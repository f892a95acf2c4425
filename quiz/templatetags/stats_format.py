"""How the statistics page writes numbers: rates as percentages, CIs as ranges, p-values.

A figure the report could not compute is None, and a missing key reaches a filter as "": both
are written as a dash.
"""

from django import template

register = template.Library()
MISSING = "—"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@register.filter
def rate(value: object) -> str:
    return f"{value:.1%}" if _is_number(value) else MISSING


@register.filter
def number(value: object, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if _is_number(value) else MISSING


@register.filter
def interval(bounds: object, as_rate: bool = True) -> str:
    if not isinstance(bounds, list | tuple) or len(bounds) != 2:
        return MISSING
    if not all(_is_number(bound) for bound in bounds):
        return MISSING
    low, high = bounds
    return f"{low:.1%} to {high:.1%}" if as_rate else f"{low:.2f} to {high:.2f}"


@register.filter
def pvalue(value: object) -> str:
    if not _is_number(value):
        return MISSING
    return "p < 0.0001" if value < 0.0001 else f"p = {value:.4f}"


@register.filter
def signed_rate(value: object) -> str:
    """A difference of two rates, in percentage points with its sign."""
    return f"{value * 100:+.1f} points" if _is_number(value) else MISSING
