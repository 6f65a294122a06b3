"""IAM documents the region's roles share."""

import json


def assume_role_policy(service: str) -> str:
    """A trust policy that lets one AWS service assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        }
    )
