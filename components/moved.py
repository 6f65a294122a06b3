"""The options that keep a resource's URN when the code moves or renames it."""

from __future__ import annotations

import pulumi

from deploypaths.identity import former_component_name


def moved_from_parent(
    component: pulumi.ComponentResource, opts: pulumi.ResourceOptions | None
) -> pulumi.ResourceOptions:
    """`parent=component`, aliased to the URN each child had as a direct child of the
    component's parent (the RegionPath, before the network, cluster and database became
    components): without the alias the engine would replace VPCs, EKS clusters and Aurora."""
    previous_parent = opts.parent if opts else None
    if previous_parent is None:
        return pulumi.ResourceOptions(parent=component)
    return pulumi.ResourceOptions(parent=component, aliases=[pulumi.Alias(parent=previous_parent)])


def renamed_path(path: str, region: str, opts: pulumi.ResourceOptions) -> pulumi.ResourceOptions:
    """`opts` for a service's or migration's path component, aliased to its former name
    (`orders-eu-west-1`, before it started with its region's): the engine carries the children
    over with it, since their names start with the component's."""
    former = pulumi.Alias(name=former_component_name(path, region))
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[former]))
