"""Random handles: what a URL, a form or a stored file name may show instead of a primary key."""

import secrets


def new_token() -> str:
    return secrets.token_urlsafe(18)


def random_png_name(folder: str) -> str:
    # Random names: the stored path must not reveal the kind (real or synthetic) either.
    return f"{folder}/{secrets.token_hex(2)}/{secrets.token_hex(16)}.png"
