"""Cluster: the region's EKS control plane, managed node group, Container Insights, kubeconfig."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam import assume_role_policy
from components.moved import moved_from_parent
from components.outputs import tolerant
from deploypaths.identity import CLUSTER

NODE_POLICIES = {
    "worker": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "cni": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "registry": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    # Container Insights' agent runs on the nodes and publishes with the node role.
    "cloudwatch": "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
}


@dataclass(frozen=True, kw_only=True)
class ClusterArgs:
    region: str
    version: str
    node_instance_type: str
    node_count: int
    subnet_ids: Sequence[pulumi.Input[str]]
    tags: dict[str, str]
    # Losing the control plane takes every path of the region down with it.
    protected: bool


class Cluster(pulumi.ComponentResource):
    """An EKS control plane with one managed node group and Container Insights."""

    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    # Workloads can run, and be watched, only once nodes and Container Insights are up.
    ready: pulumi.Resource

    def __init__(
        self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(CLUSTER, name, None, opts)
        child = moved_from_parent(self, opts)
        tags = args.tags
        cluster_role = aws.iam.Role(
            f"{name}-cluster-role",
            assume_role_policy=assume_role_policy("eks.amazonaws.com"),
            tags=tags,
            opts=child,
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            role=cluster_role.name,
            policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
            opts=child,
        )
        control_plane = aws.eks.Cluster(
            f"{name}-eks",
            role_arn=cluster_role.arn,
            version=args.version,
            vpc_config={"subnet_ids": args.subnet_ids, "endpoint_public_access": True},
            access_config={"authentication_mode": "API"},
            tags=tags,
            opts=pulumi.ResourceOptions.merge(
                child,
                pulumi.ResourceOptions(
                    depends_on=[cluster_policy],
                    protect=args.protected,
                    retain_on_delete=args.protected,
                ),
            ),
        )
        node_role = aws.iam.Role(
            f"{name}-node-role",
            assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
            tags=tags,
            opts=child,
        )
        node_policies: list[pulumi.Resource] = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{role}", role=node_role.name, policy_arn=arn, opts=child
            )
            for role, arn in NODE_POLICIES.items()
        ]
        nodes = aws.eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=control_plane.name,
            node_role_arn=node_role.arn,
            subnet_ids=args.subnet_ids,
            instance_types=[args.node_instance_type],
            scaling_config={
                "desired_size": args.node_count,
                "min_size": args.node_count,
                "max_size": args.node_count * 2,
            },
            update_config={"max_unavailable": 1},
            tags=tags,
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=node_policies)
            ),
        )
        insights = aws.eks.Addon(
            f"{name}-container-insights",
            cluster_name=control_plane.name,
            addon_name="amazon-cloudwatch-observability",
            tags=tags,
            # The add-on schedules pods, so it needs nodes to become ACTIVE.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[nodes])),
        )
        region = args.region
        self.cluster_name = control_plane.name
        self.kubeconfig = pulumi.Output.all(
            control_plane.name, control_plane.endpoint, control_plane.certificate_authority.data
        ).apply(lambda parts: kubeconfig_for(parts[0], parts[1], parts[2], region))
        self.ready = insights
        self.register_outputs(
            tolerant(
                {
                    "cluster_name": self.cluster_name,
                    "kubeconfig": self.kubeconfig,
                    "ready": self.ready,
                }
            )
        )


def kubeconfig_for(cluster: str, endpoint: str, ca_data: str, region: str) -> str:
    """A kubeconfig that authenticates with `aws eks get-token`, so no token lands in state."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster,
                    "cluster": {"server": endpoint, "certificate-authority-data": ca_data},
                }
            ],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
            "current-context": cluster,
            "users": [
                {
                    "name": cluster,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": [
                                "eks",
                                "get-token",
                                "--cluster-name",
                                cluster,
                                "--region",
                                region,
                            ],
                        }
                    },
                }
            ],
        }
    )
