"""The region's EKS cluster: control plane, managed node group, Container Insights, kubeconfig."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam import assume_role_policy
from components.region_network import Network
from deploypaths.settings import KubernetesSettings

NODE_POLICIES = {
    "worker": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "cni": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "registry": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    # Container Insights' agent runs on the nodes and publishes with the node role.
    "cloudwatch": "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
}


@dataclass(frozen=True)
class Cluster:
    name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    # Workloads can run, and be watched, only once nodes and Container Insights are up.
    ready: pulumi.Resource


def build_cluster(
    name: str,
    region: str,
    kubernetes: KubernetesSettings,
    network: Network,
    tags: dict[str, str],
    protected: bool,
    opts: pulumi.ResourceOptions,
) -> Cluster:
    cluster_role = aws.iam.Role(
        f"{name}-cluster-role",
        assume_role_policy=assume_role_policy("eks.amazonaws.com"),
        tags=tags,
        opts=opts,
    )
    cluster_policy = aws.iam.RolePolicyAttachment(
        f"{name}-cluster-policy",
        role=cluster_role.name,
        policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
        opts=opts,
    )
    control_plane = aws.eks.Cluster(
        f"{name}-eks",
        role_arn=cluster_role.arn,
        version=kubernetes.version,
        vpc_config={"subnet_ids": network.private_subnet_ids, "endpoint_public_access": True},
        access_config={"authentication_mode": "API"},
        tags=tags,
        opts=pulumi.ResourceOptions.merge(
            opts,
            pulumi.ResourceOptions(
                depends_on=[cluster_policy],
                # Losing the control plane takes every path of the region down with it.
                protect=protected,
                retain_on_delete=protected,
            ),
        ),
    )
    node_role = aws.iam.Role(
        f"{name}-node-role",
        assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
        tags=tags,
        opts=opts,
    )
    node_policies = [
        aws.iam.RolePolicyAttachment(
            f"{name}-node-{role}", role=node_role.name, policy_arn=arn, opts=opts
        )
        for role, arn in NODE_POLICIES.items()
    ]
    nodes = aws.eks.NodeGroup(
        f"{name}-nodes",
        cluster_name=control_plane.name,
        node_role_arn=node_role.arn,
        subnet_ids=network.private_subnet_ids,
        instance_types=[kubernetes.node_instance_type],
        scaling_config={
            "desired_size": kubernetes.node_count,
            "min_size": kubernetes.node_count,
            "max_size": kubernetes.node_count * 2,
        },
        update_config={"max_unavailable": 1},
        tags=tags,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=node_policies)),
    )
    insights = aws.eks.Addon(
        f"{name}-container-insights",
        cluster_name=control_plane.name,
        addon_name="amazon-cloudwatch-observability",
        tags=tags,
        # The add-on schedules pods, so it needs nodes to become ACTIVE.
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[nodes])),
    )
    kubeconfig = pulumi.Output.all(
        control_plane.name, control_plane.endpoint, control_plane.certificate_authority.data
    ).apply(lambda args: kubeconfig_for(args[0], args[1], args[2], region))
    return Cluster(name=control_plane.name, kubeconfig=kubeconfig, ready=insights)


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
