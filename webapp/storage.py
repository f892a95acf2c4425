"""The default storage on an S3-compatible bucket: django-storages' S3Storage, private.

https://django-storages.readthedocs.io/en/latest/backends/amazon-S3.html

Stored files are never served by URL (a URL would tell a real panel from a synthetic one); the
panel view and the staff views stream them. The storage is still configured so that it could not
hand out a usable public URL: objects are written with the private canned ACL and any URL it makes
is signed and expires.
"""

from botocore.config import Config

S3_BACKEND = "storages.backends.s3.S3Storage"


def s3_client_config() -> Config:
    return Config(
        # Path-style (endpoint/bucket/key): what S3-compatible servers on one host name answer.
        s3={"addressing_style": "path"},
        signature_version="s3v4",
        # botocore 1.36+ adds CRC checksums (aws-chunked bodies) to every upload by default;
        # S3-compatible servers such as Swift's s3api refuse them. AWS accepts either way.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


def s3_storage(
    *,
    bucket: str,
    endpoint_url: str = "",
    access_key: str = "",
    secret_key: str = "",
    region: str = "",
    location: str = "",
) -> dict:
    """`STORAGES["default"]` for a private bucket; empty values fall back to boto3's defaults."""
    return {
        "BACKEND": S3_BACKEND,
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url or None,
            "access_key": access_key or None,
            "secret_key": secret_key or None,
            "region_name": region or None,
            "location": location.strip("/"),
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": 300,
            # A second file of the same name gets a new name instead of replacing the first.
            "file_overwrite": False,
            "client_config": s3_client_config(),
        },
    }
