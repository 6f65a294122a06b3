import boto3

from deploypaths.regions import KNOWN_REGIONS


def test_the_known_regions_are_the_ones_boto3_lists_for_eks():
    assert frozenset(boto3.session.Session().get_available_regions("eks")) == KNOWN_REGIONS
    assert {"us-east-1", "eu-west-1", "ap-southeast-2"} <= KNOWN_REGIONS
