"""AWS region codes, from the endpoint data botocore ships (no network needed)."""

import boto3

KNOWN_REGIONS = frozenset(boto3.session.Session().get_available_regions("eks"))
