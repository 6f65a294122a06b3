"""The options of children that moved into a component from the component's own parent."""

from __future__ import annotations

import pulumi


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
