"""Network: the VPC of a region's cluster and database, public subnets for the NAT, private for
the rest."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.moved import moved_from_parent
from components.outputs import tolerant
from deploypaths.identity import NETWORK

VPC_CIDR = "10.40.0.0/16"
# Zone i gets the i-th /24 for its public subnet and the (i+1)-th /20 for its private one: the
# /24s all sit in the first /20, which no private subnet takes.
PUBLIC_BLOCKS = list(ipaddress.ip_network(VPC_CIDR).subnets(new_prefix=24))
PRIVATE_BLOCKS = list(ipaddress.ip_network(VPC_CIDR).subnets(new_prefix=20))[1:]
# Zone suffixes are fixed so the subnet set is known at preview and keyed by zone, not position.
ZONE_SUFFIXES = ("a", "b", "c")


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    region: str
    tags: dict[str, str]


class Network(pulumi.ComponentResource):
    """A VPC across three zones, with one NAT gateway for the private subnets' egress."""

    vpc_id: pulumi.Output[str]
    cidr: str
    private_subnet_ids: list[pulumi.Output[str]]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(NETWORK, name, None, opts)
        child = moved_from_parent(self, opts)
        tags, region = args.tags, args.region
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=VPC_CIDR,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**tags, "Name": f"{name}-vpc"},
            opts=child,
        )
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags={**tags, "Name": f"{name}-igw"}, opts=child
        )
        public_routes = aws.ec2.RouteTable(
            f"{name}-public-routes",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}],
            tags=tags,
            opts=child,
        )
        public = {
            suffix: aws.ec2.Subnet(
                f"{name}-public-{suffix}",
                vpc_id=vpc.id,
                availability_zone=f"{region}{suffix}",
                cidr_block=str(PUBLIC_BLOCKS[index]),
                map_public_ip_on_launch=False,
                tags={**tags, "kubernetes.io/role/elb": "1"},
                opts=child,
            )
            for index, suffix in enumerate(ZONE_SUFFIXES)
        }
        # One NAT per region keeps cost down; nodes lose egress, not serving, if its zone fails.
        address = aws.ec2.Eip(f"{name}-nat-ip", domain="vpc", tags=tags, opts=child)
        nat = aws.ec2.NatGateway(
            f"{name}-nat",
            allocation_id=address.id,
            subnet_id=public[ZONE_SUFFIXES[0]].id,
            tags=tags,
            opts=child,
        )
        private_routes = aws.ec2.RouteTable(
            f"{name}-private-routes",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
            tags=tags,
            opts=child,
        )
        private_subnet_ids = []
        for index, suffix in enumerate(ZONE_SUFFIXES):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{suffix}-routes",
                subnet_id=public[suffix].id,
                route_table_id=public_routes.id,
                opts=child,
            )
            private = aws.ec2.Subnet(
                f"{name}-private-{suffix}",
                vpc_id=vpc.id,
                availability_zone=f"{region}{suffix}",
                cidr_block=str(PRIVATE_BLOCKS[index]),
                tags={**tags, "kubernetes.io/role/internal-elb": "1"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{suffix}-routes",
                subnet_id=private.id,
                route_table_id=private_routes.id,
                opts=child,
            )
            private_subnet_ids.append(private.id)
        self.vpc_id = vpc.id
        self.cidr = VPC_CIDR
        self.private_subnet_ids = private_subnet_ids
        self.register_outputs(
            tolerant(
                {
                    "vpc_id": self.vpc_id,
                    "cidr": self.cidr,
                    "private_subnet_ids": self.private_subnet_ids,
                }
            )
        )
